// Ports of the test servers on loopback (Azurite, moto, the cache server):
// a free one to start a server on, and waiting until a server listens.
const net = require('node:net')

/** A port free on 127.0.0.1 now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/**
 * Resolves once `port` on 127.0.0.1 accepts a connection. Rejects, naming
 * `name`, when `child` (the server's process, if given) exits first or after
 * `ms` milliseconds.
 */
function waitForPort(port, { name = 'the server', child, ms = 20000, every = 50 } = {}) {
  const deadline = Date.now() + ms
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child && child.exitCode !== null) return reject(new Error(`${name} exited with ${child.exitCode} before listening on ${port}`))
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.end()
        resolve()
      })
      socket.once('error', () => {
        socket.destroy()
        if (Date.now() > deadline) reject(new Error(`${name} did not listen on ${port}`))
        else setTimeout(attempt, every)
      })
    }
    attempt()
  })
}

module.exports = { freePort, waitForPort }
