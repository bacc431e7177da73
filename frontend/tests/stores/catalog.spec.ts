import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import type { Health } from '@/api/types'
import { useCatalogStore } from '@/stores/catalog'
import { catalog } from '../helpers'

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
