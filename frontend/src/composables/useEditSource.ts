/**
 * The picture an edit starts from: one of a history task's images (`/edit/<task>/<index>`), or a
 * file the user picks or drops, shown from memory and uploaded only when the edit is sent.
 */
import { onBeforeUnmount, ref, shallowRef } from 'vue'
import { api } from '@/api/client'
import type { Task } from '@/api/types'

export interface EditSource {
  url: string
  width: number
  height: number
  /** A history image: its id (an output id) and the task that made it. */
  imageId: string | null
  task: Task | null
  /** A local file, uploaded on submit (once: the upload id is kept). */
  file: File | null
  uploadId: string | null
}

export function imageSize(url: string): Promise<{ width: number; height: number }> {
  return new Promise((resolve, reject) => {
    const img = new Image()
    img.onload = () => resolve({ width: img.naturalWidth, height: img.naturalHeight })
    img.onerror = () => reject(new Error('not an image'))
    img.src = url
  })
}

export function useEditSource() {
  const source = shallowRef<EditSource | null>(null)
  const loading = ref(false)
  let objectUrl: string | null = null
  let controller: AbortController | null = null

  function release(): void {
    if (objectUrl) URL.revokeObjectURL(objectUrl)
    objectUrl = null
  }

  /** Resolves to false when the task has no such image. */
  async function fromTask(taskId: string, index: number): Promise<boolean> {
    controller?.abort()
    controller = new AbortController()
    loading.value = true
    try {
      const task = await api.task(taskId, controller.signal)
      const output = task.outputs.find((o) => o.index === index) ?? null
      if (!output || output.missing) return false
      release()
      source.value = { url: output.url, width: output.width, height: output.height, imageId: output.id, task, file: null, uploadId: null }
      return true
    } finally {
      loading.value = false
    }
  }

  async function fromFile(file: File): Promise<void> {
    const url = URL.createObjectURL(file)
    try {
      const size = await imageSize(url)
      release()
      objectUrl = url
      source.value = { url, ...size, imageId: null, task: null, file, uploadId: null }
    } catch (error) {
      URL.revokeObjectURL(url)
      throw error
    }
  }

  /** What the API is told the source is; uploads a local file the first time. */
  async function reference(): Promise<{ image_id: string } | { upload_id: string }> {
    const s = source.value
    if (!s) throw new Error('no source')
    if (s.imageId) return { image_id: s.imageId }
    if (!s.uploadId && s.file) {
      const uploaded = await api.upload(s.file)
      source.value = { ...s, uploadId: uploaded.id }
      return { upload_id: uploaded.id }
    }
    if (!s.uploadId) throw new Error('no source')
    return { upload_id: s.uploadId }
  }

  function clear(): void {
    release()
    source.value = null
  }

  onBeforeUnmount(() => {
    controller?.abort()
    release()
  })

  return { source, loading, fromTask, fromFile, reference, clear }
}
