import { defineAsyncComponent, ref } from 'vue'

export const ImageViewer = defineAsyncComponent(() => import('@/components/ImageViewer.vue'))

/** State of one lightbox: which URLs, which one first, open or not. */
export function useImageViewer() {
  const urls = ref<string[]>([])
  const index = ref(0)
  const open = ref(false)

  function show(list: string[], at = 0): void {
    urls.value = list
    index.value = Math.max(0, Math.min(at, list.length - 1))
    open.value = true
  }

  function close(): void {
    open.value = false
  }

  return { urls, index, open, show, close }
}
