/** The model catalogue and server health, loaded once and shared by every page. */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import { api } from '@/api/client'
import type { Health, ModelPublic } from '@/api/types'
import { capabilitiesOf, type Capabilities } from '@/utils/capabilities'

export const useCatalogStore = defineStore('catalog', () => {
  const models = shallowRef<ModelPublic[]>([])
  const defaultModel = ref<string>('')
  const health = shallowRef<Health | null>(null)
  const loading = ref(false)
  const error = shallowRef<unknown>(null)
  let pending: Promise<void> | null = null
  /** Median seconds a model takes on this install (models never completed here are absent). */
  const typicalSeconds = shallowRef<Record<string, number>>({})
  let durationsAt = 0

  const byId = computed(() => new Map(models.value.map((m) => [m.id, m])))
  const available = computed(() => models.value.filter((m) => m.available))
  /** Providers in catalogue order, each with its models. */
  const groups = computed(() => {
    const out = new Map<string, ModelPublic[]>()
    for (const model of models.value) {
      const list = out.get(model.provider) ?? []
      list.push(model)
      out.set(model.provider, list)
    }
    return [...out.entries()].map(([provider, list]) => ({ provider, models: list }))
  })
  /**
   * No credentials at all: everything the user makes is a demo image. Decided by the catalogue
   * (every available model is a demo one) once it is loaded, by /health until then.
   */
  const demoOnly = computed(() => {
    if (models.value.length) return available.value.length > 0 && available.value.every((m) => m.provider === 'demo')
    return health.value !== null && health.value.volcengine_configured === false
  })

  function model(id: string | null | undefined): ModelPublic | undefined {
    return id ? byId.value.get(id) : undefined
  }

  function capabilities(id: string | null | undefined): Capabilities | null {
    const found = model(id)
    return found ? capabilitiesOf(found) : null
  }

  async function loadModels(force = false): Promise<void> {
    if (pending && !force) return pending
    if (models.value.length && !force) return
    loading.value = true
    pending = api
      .models()
      .then((catalog) => {
        models.value = catalog.models
        defaultModel.value = catalog.default_model
        error.value = null
      })
      .catch((err: unknown) => {
        error.value = err
        throw err
      })
      .finally(() => {
        loading.value = false
        pending = null
      })
    return pending
  }

  /** Refreshed at most every 30 s: a figure over 50 tasks hardly moves with one more. */
  async function loadDurations(force = false): Promise<void> {
    const now = Date.now()
    if (!force && now - durationsAt < 30_000) return
    durationsAt = now
    const answer = await api.modelDurations()
    typicalSeconds.value = Object.fromEntries(answer.items.map((item) => [item.model, item.median_seconds]))
  }

  /** The server's detail; null while only its status is known (a password and no session yet). */
  async function loadHealth(): Promise<Health | null> {
    const answer = await api.health()
    health.value = 'version' in answer ? answer : null
    return health.value
  }

  return {
    models,
    defaultModel,
    health,
    loading,
    error,
    byId,
    available,
    groups,
    demoOnly,
    model,
    capabilities,
    typicalSeconds,
    loadModels,
    loadDurations,
    loadHealth,
  }
})
