import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import type { Health } from '@/api/types'
import { useCatalogStore } from '@/stores/catalog'
import { catalog, jsonResponse } from '../helpers'
import { mockFetch } from '../mocks'

const health = (configured: boolean) => ({ status: 'healthy', volcengine_configured: configured, warnings: [] }) as unknown as Health

describe('catalog.demoOnly (drives the DEMO banner)', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('is known from /health before the catalogue arrives', () => {
    const store = useCatalogStore()
    expect(store.demoOnly).toBe(false)
    store.health = health(false)
    expect(store.demoOnly).toBe(true)
    store.health = health(true)
    expect(store.demoOnly).toBe(false)
  })

  it('follows the catalogue once loaded: only demo models available → demo only', () => {
    const store = useCatalogStore()
    store.health = health(true)
    store.models = catalog.models.map((m) => ({ ...m, available: m.provider === 'demo' }))
    expect(store.demoOnly).toBe(true)
    store.models = catalog.models.map((m) => ({ ...m, available: true }))
    expect(store.demoOnly).toBe(false)
  })
})

describe('catalog.loadHealth', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('keeps only the detail: before signing in a server with a password tells just its status', async () => {
    const answers = [{ status: 'healthy' }, { ...health(true), version: '1.0.0' }]
    mockFetch({ 'GET /health': () => jsonResponse(answers.shift()) })
    const store = useCatalogStore()
    expect(await store.loadHealth()).toBeNull()
    expect(store.health).toBeNull()
    expect(await store.loadHealth()).toMatchObject({ version: '1.0.0' })
  })
})
