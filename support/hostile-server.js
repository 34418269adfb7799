// A hostile or broken remote on 127.0.0.1: the answers no real server makes
// on demand, the same for every remote's protocol (the path and the
// method's meaning are ignored, so one server stands for an Azure blob
// endpoint, an S3 endpoint or a cache server). `server.mode` picks it:
//   'endless-error' HEAD: 200, a small size; any other request: 500 whose
//                   body never ends
//   'attributes'    HEAD: 200, a small size (404 when `status` is 404); any
//                   other request: 500 (or `status`) whose XML error has
//                   `attributes` attributes in one tag, and a code full of
//                   control characters
//   'slow-miss'     every request: 404, after `delayMs`
//   'trickle'       HEAD: 200, a small size; GET: 200 claiming 1 TiB, then
//                   one byte every `tickMs`
//   'endless-body'  HEAD: 200, a small size; GET: 200 claiming 1 TiB, a tar
//                   header and then zeros as fast as the client reads
// `server.requests` lists "METHOD /path"; `server.bytesSent` counts body
// bytes written.
const http = require('node:http')

async function startHostileServer() {
  const server = {
    mode: 'endless-error',
    status: 500,
    attributes: 300000,
    delayMs: 1500,
    tickMs: 1000,
    requests: [],
    bytesSent: 0,
  }
  const timers = new Set()
  const later = (fn, ms) => {
    const t = setTimeout(() => (timers.delete(t), fn()), ms)
    timers.add(t)
  }
  const every = (fn, ms) => {
    const t = setInterval(fn, ms)
    timers.add(t)
    return () => (clearInterval(t), timers.delete(t))
  }
  // Writes `chunk` for ever, as fast as the client reads and no faster.
  const endless = (res, chunk) => {
    const pump = () => {
      if (res.destroyed) return
      if (write(chunk)) setImmediate(pump)
      else res.once('drain', pump)
    }
    const write = (c) => {
      server.bytesSent += c.length
      return res.write(c)
    }
    pump()
  }
  const small = { 'Content-Length': '2048', ETag: '"hostile"', 'Last-Modified': new Date().toUTCString(), 'Content-Type': 'application/octet-stream' }

  const httpServer = http.createServer((req, res) => {
    server.requests.push(`${req.method} ${req.url.split('?')[0]}`)
    req.resume()
    res.on('error', () => {})
    const write = (chunk) => {
      server.bytesSent += chunk.length
      return res.write(chunk)
    }
    switch (server.mode) {
      case 'endless-error': {
        if (req.method === 'HEAD') return res.writeHead(200, small), res.end()
        res.writeHead(500, { 'Content-Type': 'application/xml' })
        const chunk = Buffer.alloc(64 << 10, 'x')
        // As fast as the client reads, and no faster (backpressure).
        endless(res, chunk)
        return
      }
      case 'attributes': {
        if (req.method === 'HEAD') return res.writeHead(server.status === 404 ? 404 : 200, small), res.end()
        const attrs = Array.from({ length: server.attributes }, (_, i) => ` a${i}="v"`).join('')
        const body = `<?xml version="1.0" encoding="utf-8"?><Error${attrs}><Code>\u001b[2J\u0007Evil\u001b]0;title\u0007</Code><Message>\u001b[31mbroken\u001b[0m</Message></Error>`
        res.writeHead(server.status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) })
        write(Buffer.from(body))
        res.end()
        return
      }
      case 'slow-miss':
        later(() => {
          res.writeHead(404, { 'x-ms-error-code': 'BlobNotFound', 'Content-Length': '0' })
          res.end()
        }, server.delayMs)
        return
      case 'trickle':
        if (req.method === 'HEAD') return res.writeHead(200, small), res.end()
        res.writeHead(200, { ...small, 'Content-Length': String(2 ** 40) })
        res.on('close', every(() => write(Buffer.from([0])), server.tickMs))
        return
      case 'endless-body': {
        if (req.method === 'HEAD') return res.writeHead(200, small), res.end()
        res.writeHead(200, { ...small, 'Content-Length': String(2 ** 40) })
        // A tar header naming one huge file, then its "content" forever.
        const header = Buffer.alloc(512)
        header.write('lib/huge.bin', 0)
        header.write('0000644\0', 100)
        header.write('0000000\0', 108)
        header.write('0000000\0', 116)
        header.write('77777777777\0', 124)
        header.write('00000000000\0', 136)
        header.write('        ', 148)
        header.write('0', 156)
        header.write('ustar\0' + '00', 257)
        const sum = header.reduce((a, b) => a + b, 0)
        header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
        server.bytesSent += header.length
        res.write(header)
        const chunk = Buffer.alloc(64 << 10)
        endless(res, chunk)
        return
      }
      default:
        res.writeHead(500)
        res.end()
    }
  })
  await new Promise((resolve, reject) => {
    httpServer.once('error', reject)
    httpServer.listen(0, '127.0.0.1', resolve)
  })
  server.port = httpServer.address().port
  server.url = `http://127.0.0.1:${server.port}`
  server.stop = async () => {
    for (const t of timers) (clearInterval(t), clearTimeout(t))
    httpServer.closeAllConnections()
    await new Promise((r) => httpServer.close(r))
  }
  return server
}

module.exports = { startHostileServer }
