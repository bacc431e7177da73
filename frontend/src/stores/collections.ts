/**
 * The member's collections (albums), loaded once and kept in step with every change made here:
 * History's filter, the multi-select "add to" menu and the detail's membership list all read it.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import { api } from '@/api/client'
import type { Collection } from '@/api/types'

function byName(a: Collection, b: Collection): number {
  return a.name.localeCompare(b.name)
}

export const useCollectionsStore = defineStore('collections', () => {
  const items = shallowRef<Collection[]>([])
  const loaded = ref(false)
  let pending: Promise<void> | null = null

  const byId = computed(() => new Map(items.value.map((c) => [c.id, c])))

  function put(collection: Collection): void {
    const rest = items.value.filter((c) => c.id !== collection.id)
    items.value = [...rest, collection].sort(byName)
  }

  async function load(force = false): Promise<void> {
    if (pending) return pending
    if (loaded.value && !force) return
    pending = api
      .collections()
      .then((answer) => {
        items.value = [...answer.items].sort(byName)
        loaded.value = true
      })
      .finally(() => {
        pending = null
      })
    return pending
  }

  async function create(name: string): Promise<Collection> {
    const made = await api.createCollection(name)
    put(made)
    return made
  }

  async function rename(id: string, name: string): Promise<Collection> {
    const renamed = await api.renameCollection(id, name)
    put(renamed)
    return renamed
  }

  async function remove(id: string): Promise<void> {
    await api.deleteCollection(id)
    items.value = items.value.filter((c) => c.id !== id)
  }

  /** Adds the tasks; returns how many were not in it yet. */
  async function add(id: string, taskIds: string[]): Promise<number> {
    const result = await api.addToCollection(id, taskIds)
    put(result.collection)
    return result.changed
  }

  async function take(id: string, taskIds: string[]): Promise<number> {
    const result = await api.removeFromCollection(id, taskIds)
    put(result.collection)
    return result.changed
  }

  /** After items left the history: counts and covers are the server's to tell. */
  function invalidate(): void {
    loaded.value = false
  }

  function nameOf(id: string): string {
    return byId.value.get(id)?.name ?? ''
  }

  return { items, loaded, byId, load, create, rename, remove, add, take, invalidate, nameOf }
})
