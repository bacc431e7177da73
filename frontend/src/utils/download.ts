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
