// A fault-injecting HTTP proxy on 127.0.0.1 in front of a remote's server
// (Azurite, moto, a cache server), for the faults servers cannot make on
// demand. It forwards every request as is and
// counts them; `proxy.mode` switches what it does:
//   'pass'     forward (the default)
//   'throttle' answer every request 503 ServerBusy with `Retry-After: 60`
//   'trickle'  forward, but send GET response bodies at `trickleBytesPerSec`
//   'cut'      forward, but close the connection after `cutAfterBytes` bytes
//              of a GET response body (a stream cut short)
//   'redirect' answer every request 307 to the same path on `redirectTo`
//              (an origin such as http://127.0.0.1:PORT), without reading its body
// and `proxy.headSize`, when set, is the Content-Length a HEAD answers with
// (as if the blob had been replaced by a larger one after the HEAD).
// `proxy.connectDelayMs` holds each new connection that long before any
// byte passes (a far endpoint's TCP and TLS handshakes), in a TCP front
// before the HTTP proxy; `proxy.connections` counts the connections made,
// and `proxy.connectionOf[i]` is the number (1, 2, ...) of the connection
// `proxy.requests[i]` came on.
const http = require('node:http')
const net = require('node:net')

const TICK_MS = 100

/** Starts a proxy forwarding to the server on `upstreamPort`. */
async function startFaultProxy(upstreamPort) {
  const proxy = {
    mode: 'pass',
    retryAfter: 60,
    trickleBytesPerSec: 50 * 1024,
    cutAfterBytes: 64 * 1024,
    headSize: null,
    redirectTo: null,
    connectDelayMs: 0,
    connections: 0,
    /** Every request, as "METHOD /path range". */
    requests: [],
    /** For each request, the number of the connection it came on. */
    connectionOf: [],
    /** The same, for each request whose whole answer was sent. */
    answered: [],
    /** Response body bytes sent to the client, in all. */
    bytesSent: 0,
  }
  const timers = new Set()
  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0]
    const request = `${req.method} ${path} ${req.headers['x-ms-range'] ?? req.headers.range ?? ''}`.trim()
    proxy.requests.push(request)
    proxy.connectionOf.push(req.socket.connectionNumber)
    res.on('finish', () => proxy.answered.push(request))
    if (proxy.mode === 'throttle') {
      req.resume()
      req.on('end', () => {
        const body = '<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>The server is busy.</Message></Error>'
        res.writeHead(503, { 'Retry-After': String(proxy.retryAfter), 'x-ms-error-code': 'ServerBusy', 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) })
        res.end(body)
      })
      return
    }
    if (proxy.mode === 'redirect') {
      res.writeHead(307, { Location: `${proxy.redirectTo}${req.url}`, 'Content-Length': 0, Connection: 'close' })
      res.end()
      req.destroy()
      return
    }
    const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      const headers = { ...upRes.headers }
      if (req.method === 'HEAD' && proxy.headSize != null && upRes.statusCode === 200) headers['content-length'] = String(proxy.headSize)
      res.writeHead(upRes.statusCode, headers)
      if (proxy.mode === 'trickle' && req.method === 'GET') trickle(upRes, res)
      else if (proxy.mode === 'cut' && req.method === 'GET') cut(upRes, res)
      else {
        upRes.on('data', (d) => (proxy.bytesSent += d.length))
        upRes.pipe(res)
      }
    })
    up.on('error', () => res.destroy())
    res.on('close', () => up.destroy())
    req.pipe(up)
  })

  // Sends the upstream body at trickleBytesPerSec, in ticks, and stops when
  // the client goes away.
  function trickle(upRes, res) {
    const queue = []
    let ended = false
    upRes.on('data', (d) => {
      queue.push(d)
      upRes.pause()
    })
    upRes.on('end', () => (ended = true))
    const perTick = Math.max(1, Math.floor((proxy.trickleBytesPerSec * TICK_MS) / 1000))
    const timer = setInterval(() => {
      let room = perTick
      while (room > 0 && queue.length) {
        const head = queue[0]
        const part = head.subarray(0, room)
        res.write(part)
        proxy.bytesSent += part.length
        room -= part.length
        if (part.length === head.length) queue.shift()
        else queue[0] = head.subarray(part.length)
      }
      if (!queue.length) {
        if (ended) stop(true)
        else upRes.resume()
      }
    }, TICK_MS)
    timers.add(timer)
    const stop = (finish) => {
      clearInterval(timer)
      timers.delete(timer)
      if (finish) res.end()
      else upRes.destroy()
    }
    res.on('close', () => stop(false))
  }

  // Sends cutAfterBytes of the upstream body, then drops the connection
  // (the answer said how long it was, so the client sees it cut short).
  function cut(upRes, res) {
    let sent = 0
    upRes.on('data', (d) => {
      const part = d.subarray(0, Math.max(0, proxy.cutAfterBytes - sent))
      if (part.length) res.write(part)
      sent += part.length
      proxy.bytesSent += part.length
      if (sent >= proxy.cutAfterBytes) {
        upRes.destroy()
        res.destroy()
      }
    })
    upRes.on('end', () => res.end())
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const httpPort = server.address().port
  // Each front connection opens one connection to the HTTP proxy, in order.
  let accepted = 0
  server.on('connection', (socket) => (socket.connectionNumber = ++accepted))
  const fronted = new Set()
  const front = net.createServer((client) => {
    proxy.connections++
    fronted.add(client)
    client.on('close', () => fronted.delete(client))
    client.on('error', () => client.destroy())
    const open = () => {
      const up = net.connect(httpPort, '127.0.0.1')
      fronted.add(up)
      up.on('close', () => (fronted.delete(up), client.destroy()))
      up.on('error', () => up.destroy())
      client.on('close', () => up.destroy())
      client.pipe(up).pipe(client)
    }
    if (!proxy.connectDelayMs) return open()
    const timer = setTimeout(() => (timers.delete(timer), client.destroyed || open()), proxy.connectDelayMs)
    timers.add(timer)
  })
  await new Promise((resolve, reject) => {
    front.once('error', reject)
    front.listen(0, '127.0.0.1', resolve)
  })
  proxy.port = front.address().port
  /** Stops the proxy and every transfer under way. */
  proxy.stop = async () => {
    for (const t of timers) (clearInterval(t), clearTimeout(t))
    for (const s of fronted) s.destroy()
    server.closeAllConnections()
    await Promise.all([new Promise((r) => front.close(r)), new Promise((r) => server.close(r))])
  }
  return proxy
}

module.exports = { startFaultProxy }
