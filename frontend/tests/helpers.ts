import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import type { ModelCatalog, ModelPublic, Task } from '@/api/types'
import { i18n } from '@/locales'
import { useCatalogStore } from '@/stores/catalog'
import catalogJson from './fixtures/models.json'

export const catalog = catalogJson as unknown as ModelCatalog

export function modelById(id: string): ModelPublic {
  const found = catalog.models.find((m) => m.id === id)
  if (!found) throw new Error(`no model ${id} in fixture`)
  return found
}

/** Pinia with the fixture catalogue loaded; every model marked available unless told otherwise. */
export function setupStores(options: { allAvailable?: boolean } = {}): Pinia {
  const pinia = createPinia()
  setActivePinia(pinia)
  const store = useCatalogStore()
  store.models = catalog.models.map((m) =>
    options.allAvailable === false ? m : { ...m, available: true, unavailable_reason: null },
  )
  store.defaultModel = catalog.default_model
  return pinia
}

export function testRouter(): Router {
  return createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', name: 'generate', component: { template: '<div />' } },
      { path: '/history/:id?', name: 'history', component: { template: '<div />' } },
      { path: '/login', name: 'login', component: { template: '<div />' } },
      { path: '/settings', name: 'settings', component: { template: '<div />' } },
      { path: '/usage', name: 'usage', component: { template: '<div />' } },
      { path: '/edit/:taskId?/:index?', name: 'edit', component: { template: '<div />' } },
    ],
  })
}

export function plugins(pinia: Pinia, router = testRouter()) {
  return [pinia, router, i18n]
}

export function makeTask(overrides: Partial<Task> = {}): Task {
  return {
    task_id: 't1',
    type: 'text2image',
    model: 'demo',
    provider: 'demo',
    status: 'pending',
    progress: 0,
    prompt: 'a fox',
    negative_prompt: null,
    parameters: {},
    images: [],
    outputs: [],
    failures: [],
    expected_images: 1,
    error: null,
    favorite: false,
    is_demo: true,
    unit_price_cny: 0,
    cost_max_cny: 0,
    billed_images: null,
    cost_cny: null,
    attempts: 0,
    retry_of: null,
    created_at: '2026-01-01T00:00:00Z',
    started_at: null,
    completed_at: null,
    ...overrides,
  }
}

export function output(index: number, taskId = 't1') {
  return {
    id: `${taskId}-${index}`,
    index,
    url: `/images/2026/01/01/${taskId}-${index}.png`,
    thumbnail_url: `/images/2026/01/01/${taskId}-${index}.thumb.webp`,
    width: 1024,
    height: 768,
    seed: 42 + index,
    bytes: 1000,
    content_type: 'image/png',
  }
}

export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}
