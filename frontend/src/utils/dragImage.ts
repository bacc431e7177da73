/**
 * Dragging a stored image (a result, a History card or detail) onto the reference area. The drag
 * carries the image's URL under the studio's own type, plus text/uri-list so that it also works
 * between two tabs of the studio; on drop only a URL of this origin's image store is taken (the
 * server never fetches URLs, and neither does this).
 */
export const STUDIO_IMAGE_TYPE = 'application/x-studio-image'
const STORED_IMAGE = /^\/images\/[^?#]+$/

export function setDragImage(event: DragEvent, url: string): void {
  const data = event.dataTransfer
  if (!data) return
  const absolute = new URL(url, window.location.href).href
  data.setData(STUDIO_IMAGE_TYPE, url)
  data.setData('text/uri-list', absolute)
  data.effectAllowed = 'copy'
}

/** Whether a drag may carry a stored image (the URL itself is readable only on drop). */
export function carriesImage(types: readonly string[]): boolean {
  return types.includes(STUDIO_IMAGE_TYPE) || types.includes('text/uri-list')
}

/** The stored image's path a drop carries, or null for anything else (other sites' links). */
export function droppedImageUrl(data: DataTransfer | null | undefined, origin = window.location.origin): string | null {
  if (!data) return null
  const candidates = [data.getData(STUDIO_IMAGE_TYPE), ...data.getData('text/uri-list').split(/\r?\n/)]
  for (const raw of candidates) {
    const text = raw.trim()
    if (!text || text.startsWith('#')) continue
    let url: URL
    try {
      url = new URL(text, origin)
    } catch {
      continue
    }
    if (url.origin === origin && STORED_IMAGE.test(url.pathname)) return url.pathname
  }
  return null
}
