import { createPinia } from 'pinia'
import { createApp, watch } from 'vue'
import 'element-plus/theme-chalk/base.css'
import 'element-plus/theme-chalk/dark/css-vars.css'
import App from './App.vue'
import { api } from './api/client'
import { currentLocale, i18n } from './locales'
import { createAppRouter } from './router'
import './styles/main.css'

const app = createApp(App)
const pinia = createPinia()
const router = createAppRouter()

api.configure({
  getLocale: currentLocale,
  onUnauthorized: () => {
    // The address bar, not currentRoute: during the first navigation (a deep link opened in a new
    // tab) currentRoute is still "/", and a page reacting to the 401 may be navigating away.
    const base = import.meta.env.BASE_URL.replace(/\/$/, '')
    const { pathname, search, hash } = window.location
    const here = (pathname.startsWith(base) ? pathname.slice(base.length) : pathname) || '/'
    if (router.currentRoute.value.name === 'login' || here.startsWith('/login')) return
    void router.push({ name: 'login', query: { redirect: here + search + hash } })
  },
})

function updateTitle(): void {
  const to = router.currentRoute.value
  const key = typeof to.meta.title === 'string' ? to.meta.title : ''
  const page = key ? i18n.global.t(key) : ''
  document.title = page ? `${page} · ${i18n.global.t('app.title')}` : i18n.global.t('app.title')
}
router.afterEach(updateTitle)
watch(i18n.global.locale, updateTitle)

document.documentElement.lang = currentLocale()
app.use(pinia).use(router).use(i18n)
app.mount('#app')

// Installable, and the shell opens without a network (public/sw.js caches nothing else). Not in
// `vite dev`: there the modules are not files a worker could cache.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js').catch(() => undefined)
  })
}
