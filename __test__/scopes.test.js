// Pull request scopes (support/scope-table.js) against every remote's real
// server: Azurite (a container and its own SAS), moto (a bucket of its own
// and an IAM user confined to it), turborepo-remote-cache (a server of its
// own, main read through the read-only one).
require('../support/env').scrubCacheEnv()

const { scopeTable } = require('../support/scope-table')
const { azuriteKit } = require('../support/azurite')
const { s3Kit } = require('../support/s3-server')
const { turboKit } = require('../support/turbo-server')

scopeTable('azure-blob (Azurite): pull request scopes', azuriteKit)
scopeTable('s3 (moto): pull request scopes', s3Kit)
scopeTable('turborepo (turborepo-remote-cache): pull request scopes', turboKit)
