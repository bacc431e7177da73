import { createRouter, createWebHistory, type RouteRecordRaw, type Router } from 'vue-router'
import GeneratePage from '@/pages/GeneratePage.vue'

// Generate is the landing page and ships in the entry chunk; every other page loads on demand.
export const routes: RouteRecordRaw[] = [
  { path: '/', name: 'generate', component: GeneratePage, meta: { title: 'nav.generate' } },
  {
    path: '/history/:id?',
    name: 'history',
    component: () => import('@/pages/HistoryPage.vue'),
    meta: { title: 'nav.history' },
  },
  {
    // the mask brush, outpaint preview and compare slider load with this page only
    path: '/edit/:taskId?/:index?',
    name: 'edit',
    component: () => import('@/pages/EditPage.vue'),
    meta: { title: 'nav.edit' },
  },
  { path: '/queue', name: 'queue', component: () => import('@/pages/QueuePage.vue'), meta: { title: 'nav.queue' } },
  {
    path: '/inspect',
    name: 'inspect',
    component: () => import('@/pages/InspectPage.vue'),
    meta: { title: 'nav.inspect' },
  },
  {
    // uPlot is imported by this page only, so the chart library stays in its lazy chunk
    path: '/usage',
    name: 'usage',
    component: () => import('@/pages/UsagePage.vue'),
    meta: { title: 'nav.usage' },
  },
  {
    path: '/settings',
    name: 'settings',
    component: () => import('@/pages/SettingsPage.vue'),
    meta: { title: 'nav.settings' },
  },
  {
    path: '/login',
    name: 'login',
    component: () => import('@/pages/LoginPage.vue'),
    meta: { title: 'nav.login', bare: true },
  },
  { path: '/:pathMatch(.*)*', redirect: '/' },
]

export function createAppRouter(): Router {
  return createRouter({
    history: createWebHistory(import.meta.env.BASE_URL),
    routes,
    scrollBehavior: (to, from, saved) => {
      if (saved) return saved
      // Opening or closing a history detail must not lose the gallery's scroll position.
      if (to.name === 'history' && from.name === 'history') return false
      return { top: 0 }
    },
  })
}
