/**
 * Reference images of the Generate form: checked against the model's limits before anything is
 * uploaded, uploaded through /api/v1/uploads (cancellable), reorderable.
 */
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api } from '@/api/client'
import { t } from '@/locales'
import type { Capabilities } from '@/utils/capabilities'
import type { DraftReference } from '@/utils/draft'
import { formatBytes } from '@/utils/format'
import { describeError } from '@/utils/handleError'
import { fileNameOf } from '@/utils/download'

export interface ReferenceItem {
  key: string
  name: string
  /** Object URL of the local file, or the server URL for "use as reference". */
  previewUrl: string
  status: 'uploading' | 'ready' | 'error'
  uploadId: string | null
  width: number | null
  height: number | null
  bytes: number
  error: string | null
  /** A small data: URL of a local file, so the draft can show it after a reload. */
  thumbUrl?: string | null
}

const THUMB_SIDE = 160

/** A small JPEG of an image URL (a local file's blob: URL); null where the browser cannot. */
async function smallCopy(url: string): Promise<string | null> {
  if (typeof createImageBitmap !== 'function') return null
  try {
    const blob = await (await fetch(url)).blob()
    const bitmap = await createImageBitmap(blob)
    const scale = Math.min(1, THUMB_SIDE / Math.max(bitmap.width, bitmap.height))
    const canvas = document.createElement('canvas')
    canvas.width = Math.max(1, Math.round(bitmap.width * scale))
    canvas.height = Math.max(1, Math.round(bitmap.height * scale))
    const context = canvas.getContext('2d')
    if (!context) return null
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height)
    bitmap.close()
    return canvas.toDataURL('image/jpeg', 0.7)
  } catch {
    return null
  }
}

export interface Rejection {
  name: string
  reason: string
}

let counter = 0

export const useReferencesStore = defineStore('references', () => {
  const items = ref<ReferenceItem[]>([])
  const uploads = new Map<string, AbortController>()
  const objectUrls = new Set<string>()

  function find(key: string): ReferenceItem | undefined {
    return items.value.find((item) => item.key === key)
  }

  /** Why `file` cannot be a reference for a model with `caps`, or null when it can. */
  function rejectionFor(file: File, caps: Capabilities): string | null {
    const allowed = caps.refRules.content_types
    if (!file.type.startsWith('image/')) return t('references.errors.notImage', { name: file.name })
    if (allowed.length && !allowed.includes(file.type)) {
      return t('references.errors.type', {
        name: file.name,
        types: allowed.map((x) => x.replace('image/', '').toUpperCase()).join(', '),
      })
    }
    if (file.size > caps.refMaxBytes) {
      return t('references.errors.tooLarge', {
        name: file.name,
        size: formatBytes(file.size),
        max: formatBytes(caps.refMaxBytes),
      })
    }
    return null
  }

  /** Check every file first, then upload the ones that fit; returns what was refused and why. */
  function addFiles(files: File[], caps: Capabilities | null): Rejection[] {
    const rejected: Rejection[] = []
    if (!caps || caps.refMax === 0) {
      return files.map((f) => ({ name: f.name, reason: t('references.errors.notSupported') }))
    }
    for (const file of files) {
      if (items.value.length >= caps.refMax) {
        rejected.push({ name: file.name, reason: t('references.errors.tooMany', { max: caps.refMax }) })
        continue
      }
      const reason = rejectionFor(file, caps)
      if (reason) {
        rejected.push({ name: file.name, reason })
        continue
      }
      start(file)
    }
    return rejected
  }

  function start(file: File, previewUrl?: string): void {
    const key = `ref-${Date.now().toString(36)}-${(counter++).toString(36)}`
    let preview = previewUrl
    if (!preview) {
      preview = URL.createObjectURL(file)
      objectUrls.add(preview)
    }
    items.value.push({
      key,
      name: file.name,
      previewUrl: preview,
      status: 'uploading',
      uploadId: null,
      width: null,
      height: null,
      bytes: file.size,
      error: null,
    })
    const controller = new AbortController()
    uploads.set(key, controller)
    api
      .upload(file, controller.signal)
      .then((upload) => {
        const item = find(key)
        if (!item) return
        item.status = 'ready'
        item.uploadId = upload.id
        item.width = upload.width
        item.height = upload.height
        item.bytes = upload.bytes
        if (preview && objectUrls.has(preview)) {
          void smallCopy(preview).then((thumb) => {
            const still = find(key)
            if (still) still.thumbUrl = thumb
          })
        }
      })
      .catch((error: unknown) => {
        const item = find(key)
        const info = describeError(error)
        if (!item || info.silent) return
        item.status = 'error'
        item.error = info.hint ? `${info.message} ${info.hint}` : info.message
      })
      .finally(() => uploads.delete(key))
  }

  /** "Use as reference": fetch a stored image and upload it like a local file. */
  async function addFromUrl(url: string, caps: Capabilities | null): Promise<Rejection[]> {
    const response = await fetch(url, { credentials: 'same-origin' })
    if (!response.ok) throw new Error(t('references.errors.fetch'))
    const blob = await response.blob()
    const file = new File([blob], fileNameOf(url), { type: blob.type || 'image/png' })
    if (!caps || caps.refMax === 0) return [{ name: file.name, reason: t('references.errors.notSupported') }]
    if (items.value.length >= caps.refMax) {
      return [{ name: file.name, reason: t('references.errors.tooMany', { max: caps.refMax }) }]
    }
    const reason = rejectionFor(file, caps)
    if (reason) return [{ name: file.name, reason }]
    start(file, url)
    return []
  }

  /** An item already on the server (no upload to run). */
  function pushReady(ref: DraftReference): void {
    items.value.push({
      key: `ref-${Date.now().toString(36)}-${(counter++).toString(36)}`,
      name: ref.name,
      previewUrl: ref.previewUrl,
      status: 'ready',
      uploadId: ref.uploadId,
      width: ref.width,
      height: ref.height,
      bytes: ref.bytes,
      error: null,
      thumbUrl: ref.previewUrl.startsWith('data:') ? ref.previewUrl : null,
    })
  }

  /** Remix: references a past task used, by upload id (already on the server; no preview). */
  function addUploaded(ids: string[], caps: Capabilities | null): void {
    if (!caps || caps.refMax === 0) return
    clear()
    for (const id of ids.slice(0, caps.refMax)) {
      pushReady({ uploadId: id, name: id, previewUrl: '', width: null, height: null, bytes: 0 })
    }
  }

  /** A saved draft's references (uploaded before the reload). */
  function restore(saved: DraftReference[], caps: Capabilities | null): void {
    if (!caps || caps.refMax === 0) return
    clear()
    for (const ref of saved.slice(0, caps.refMax)) pushReady(ref)
  }

  /** What a draft keeps of the references: the uploaded ones, with a preview that survives. */
  function forDraft(): DraftReference[] {
    return items.value
      .filter((item) => item.status === 'ready' && item.uploadId)
      .map((item) => ({
        uploadId: item.uploadId as string,
        name: item.name,
        previewUrl: objectUrls.has(item.previewUrl) ? (item.thumbUrl ?? '') : item.previewUrl,
        width: item.width,
        height: item.height,
        bytes: item.bytes,
      }))
  }

  function remove(key: string): void {
    uploads.get(key)?.abort()
    uploads.delete(key)
    const item = find(key)
    if (item && objectUrls.has(item.previewUrl)) {
      URL.revokeObjectURL(item.previewUrl)
      objectUrls.delete(item.previewUrl)
    }
    items.value = items.value.filter((x) => x.key !== key)
  }

  function move(from: number, to: number): void {
    if (from === to || from < 0 || to < 0 || from >= items.value.length || to >= items.value.length) return
    const next = [...items.value]
    const [moved] = next.splice(from, 1)
    if (moved) next.splice(to, 0, moved)
    items.value = next
  }

  function clear(): void {
    for (const item of [...items.value]) remove(item.key)
  }

  /** A saved reference set's images (already on the server), after those in the form. */
  function addSaved(saved: DraftReference[], caps: Capabilities | null): Rejection[] {
    if (!caps || caps.refMax === 0) return saved.map((r) => ({ name: r.name, reason: t('references.errors.notSupported') }))
    const room = caps.refMax - items.value.length
    for (const ref of saved.slice(0, Math.max(room, 0))) pushReady(ref)
    return saved.slice(Math.max(room, 0)).map((r) => ({ name: r.name, reason: t('references.errors.tooMany', { max: caps.refMax }) }))
  }

  return { items, addFiles, addFromUrl, addUploaded, addSaved, restore, forDraft, remove, move, clear, rejectionFor }
})
