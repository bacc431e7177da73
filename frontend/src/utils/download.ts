/** Save a Blob under `filename` through a temporary object URL. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  link.rel = 'noopener'
  document.body.appendChild(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

export function fileNameOf(url: string): string {
  const clean = url.split(/[?#]/)[0] ?? url
  return clean.substring(clean.lastIndexOf('/') + 1) || 'image'
}

const SLUG_MAX = 40

/**
 * Lower-case words of the prompt joined by "-", at most 40 characters, cut at a word boundary
 * where there is one; "image" when nothing is left. The same as backend/app/storage/names.py.
 */
export function promptSlug(prompt: string, limit = SLUG_MAX): string {
  let slug = prompt
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '')
  const chars = Array.from(slug)
  if (chars.length > limit) {
    const cut = chars.slice(0, limit).join('')
    const tail = chars.slice(Math.floor(limit / 2), limit).join('')
    slug = tail.includes('-') ? cut.slice(0, cut.lastIndexOf('-')) : cut
  }
  return slug.replace(/^-+|-+$/g, '') || 'image'
}

/**
 * "20260102-030405_a-red-fox_0123abcd_1.png": made when (UTC, as in the zips and the `studio`
 * command), what, which task, which image.
 */
export function downloadName(createdAt: string, prompt: string, taskId: string, index: number, url: string): string {
  const date = new Date(createdAt)
  const pad = (n: number) => String(n).padStart(2, '0')
  const stamp = Number.isNaN(date.getTime())
    ? 'image'
    : `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}-` +
      `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`
  const file = fileNameOf(url)
  const ext = file.includes('.') ? file.slice(file.lastIndexOf('.') + 1).toLowerCase() : 'png'
  return `${stamp}_${promptSlug(prompt)}_${taskId.slice(0, 8)}_${index + 1}.${ext}`
}
