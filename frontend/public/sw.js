/*
 * The app shell offline, nothing else: index.html, the hashed /assets/ it loads, the icons.
 * Never /api/, /images/, /health or the docs: those are live data (and behind the password).
 * Navigations go to the network first, so a deploy shows at once; the cached shell only answers
 * when the network does not.
 */
const SHELL = 'studio-shell-v1'
const STATIC = ['/', '/favicon.svg', '/theme-init.js', '/manifest.json', '/icons/icon-192.png', '/icons/icon-512.png']
const NEVER = /^\/(api\/|images\/|health$|docs|redoc$|openapi\.json$|metrics$|_studio\/)/

/** index.html and every script and stylesheet it names, so the shell starts offline. */
async function cacheShell() {
  const cache = await caches.open(SHELL)
  await cache.addAll(STATIC)
  const html = await (await cache.match('/')).text()
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1])
  await cache.addAll(assets)
}

self.addEventListener('install', (event) => {
  event.waitUntil(cacheShell().then(() => self.skipWaiting()))
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== SHELL).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin || NEVER.test(url.pathname)) return

  if (request.mode === 'navigate') {
    event.respondWith(
      fetch(request)
        .then((response) => {
          // a fresh copy of the shell for the next time the network is gone
          if (response.ok && response.headers.get('content-type')?.includes('text/html')) {
            const copy = response.clone()
            void caches.open(SHELL).then((cache) => cache.put('/', copy))
          }
          return response
        })
        .catch(async () => (await caches.match('/')) ?? Response.error()),
    )
    return
  }

  if (url.pathname.startsWith('/assets/') || STATIC.includes(url.pathname)) {
    // hashed names never change: the cached copy is the right one
    event.respondWith(
      caches.match(request).then(
        (hit) =>
          hit ??
          fetch(request).then((response) => {
            if (response.ok && url.pathname.startsWith('/assets/')) {
              const copy = response.clone()
              void caches.open(SHELL).then((cache) => cache.put(request, copy))
            }
            return response
          }),
      ),
    )
  }
})
