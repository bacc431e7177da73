/** Files from drag-and-drop, the clipboard and a hidden file input, all delivered the same way;
 * with `onImage`, stored images dragged from the studio (results, History) too. */
import { onBeforeUnmount, onMounted, ref, toValue, type MaybeRefOrGetter } from 'vue'
import { carriesImage, droppedImageUrl } from '@/utils/dragImage'

export function imageFilesOf(list: FileList | DataTransferItemList | null | undefined): File[] {
  if (!list) return []
  const files: File[] = []
  for (let i = 0; i < list.length; i++) {
    const entry = list[i]
    if (!entry) continue
    const file = entry instanceof File ? entry : (entry as DataTransferItem).kind === 'file' ? (entry as DataTransferItem).getAsFile() : null
    if (file) files.push(file)
  }
  return files
}

export interface FileDropOptions {
  /** Listen to paste anywhere on the page while this is true. */
  paste?: MaybeRefOrGetter<boolean>
  /** A stored image of this studio was dropped (its /images/ path). */
  onImage?: (url: string) => void
}

export function useFileDrop(onFiles: (files: File[]) => void, options: FileDropOptions = {}) {
  const dragging = ref(false)
  let depth = 0

  function hasFiles(event: DragEvent): boolean {
    const types = Array.from(event.dataTransfer?.types ?? [])
    return types.includes('Files') || (!!options.onImage && carriesImage(types))
  }

  function onDragEnter(event: DragEvent): void {
    if (!hasFiles(event)) return
    event.preventDefault()
    depth++
    dragging.value = true
  }

  function onDragOver(event: DragEvent): void {
    if (!hasFiles(event)) return
    event.preventDefault()
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy'
  }

  function onDragLeave(): void {
    depth = Math.max(0, depth - 1)
    if (depth === 0) dragging.value = false
  }

  function onDrop(event: DragEvent): void {
    if (!hasFiles(event)) return
    event.preventDefault()
    depth = 0
    dragging.value = false
    const files = imageFilesOf(event.dataTransfer?.files)
    if (files.length) {
      onFiles(files)
      return
    }
    const url = options.onImage ? droppedImageUrl(event.dataTransfer) : null
    if (url) options.onImage?.(url)
  }

  function onInputChange(event: Event): void {
    const input = event.target as HTMLInputElement
    const files = imageFilesOf(input.files)
    input.value = ''
    if (files.length) onFiles(files)
  }

  function onPaste(event: ClipboardEvent): void {
    if (!toValue(options.paste)) return
    const files = imageFilesOf(event.clipboardData?.files).filter((f) => f.type.startsWith('image/'))
    if (!files.length) return // plain text: let it reach the prompt box
    event.preventDefault()
    onFiles(files)
  }

  onMounted(() => {
    if (options.paste !== undefined) window.addEventListener('paste', onPaste)
  })
  onBeforeUnmount(() => window.removeEventListener('paste', onPaste))

  return { dragging, onDragEnter, onDragOver, onDragLeave, onDrop, onInputChange, onPaste }
}
