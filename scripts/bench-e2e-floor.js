'use strict'
// Preloaded by bench-e2e.js into lage's worker threads (NODE_OPTIONS
// --require) for the "lage-floor" runs: a cache provider that answers every
// fetch with a hit at once and touches no file. What lage takes with it is
// lage's own cost with a cache that costs nothing: the floor under any
// provider, ours included.
const wt = require('node:worker_threads')

if (!wt.isMainThread && wt.workerData && wt.workerData.cacheOptions) {
  wt.workerData.cacheOptions.cacheStorageConfig = { provider: () => ({ fetch: async () => true, put: async () => {} }) }
  wt.workerData.skipLocalCache = true
}
