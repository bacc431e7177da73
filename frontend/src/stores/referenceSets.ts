/**
 * Saved reference sets (a character, a product): listed once per session, saved from the form's
 * uploaded references, and used in one click. Using one asks the server first, which checks the
 * set against the model's reference limit (with what the form already holds) and says why not.
 */
import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import { api } from '@/api/client'
import type { ReferenceSet } from '@/api/types'
import type { DraftReference } from '@/utils/draft'

export function setReferences(set: ReferenceSet): DraftReference[] {
  return set.images.map((image, i) => ({
    uploadId: image.upload_id,
    name: `${set.name} ${i + 1}`,
    previewUrl: image.url,
    width: image.width,
    height: image.height,
    bytes: image.bytes,
  }))
}

export const useReferenceSetsStore = defineStore('referenceSets', () => {
  const items = shallowRef<ReferenceSet[]>([])
  const loaded = ref(false)

  async function load(force = false): Promise<void> {
    if (loaded.value && !force) return
    items.value = (await api.referenceSets()).items
    loaded.value = true
  }

  async function save(name: string, uploadIds: string[]): Promise<ReferenceSet> {
    const made = await api.createReferenceSet(name, uploadIds)
    items.value = [...items.value, made].sort((a, b) => a.name.localeCompare(b.name))
    return made
  }

  async function remove(id: string): Promise<void> {
    await api.deleteReferenceSet(id)
    items.value = items.value.filter((s) => s.id !== id)
  }

  /** The set's images for `model`, when they fit beside the `already` references of the form. */
  async function use(id: string, model: string, already: number): Promise<DraftReference[]> {
    return setReferences(await api.useReferenceSet(id, model, already))
  }

  return { items, loaded, load, save, remove, use }
})
