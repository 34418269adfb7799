// The shared remote table (support/remote-table.js) against every remote,
// each on a real server started on loopback: Azurite for azure-blob, moto
// (IAM enforced) for s3. A new remote adds its kit line here.
require('../support/env').scrubCacheEnv()

const { remoteTable } = require('../support/remote-table')
const { azuriteKit } = require('../support/azurite')
const { s3Kit } = require('../support/s3-server')

remoteTable('azure-blob (Azurite)', azuriteKit)
remoteTable('s3 (moto)', s3Kit)
