/**
 * Turn a task's (or an image's embedded) parameter object into labelled rows for a key/value list:
 * null/undefined/'' entries are hidden, booleans read 是/否 (Yes/No), empty lists read "—",
 * reference lists read "2 张参考图" with thumbnails for the entries that are displayable URLs,
 * enum values (mode, optimisation) and model ids get their i18n labels, width+height become one
 * "W × H" row.
 */

export interface ParamRow {
  key: string
  label: string
  value: string
  /** image URLs to show as small thumbnails next to the value (reference lists only) */
  thumbs?: string[]
}

export interface ParamFormatContext {
  t: (key: string, params?: Record<string, unknown>) => string
  te: (key: string) => boolean
  /** display name of a model id, when the catalogue knows it */
  modelName?: (id: string) => string | undefined
  /** keys not to list (e.g. the prompt, already shown above the table) */
  omit?: readonly string[]
  /** a timestamp in the UI's language (ISO strings otherwise read as they are) */
  formatDate?: (iso: string) => string
  /** a CNY amount as the UI writes money */
  formatMoney?: (cny: number) => string
}

/** The studio's own name in embedded metadata (backend/app/storage/metadata.py APP_NAME). */
const STUDIO_APP = 'volcengine-image-studio'
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/

export const EMPTY = '—'
const REFERENCE_KEYS = new Set(['references', 'images', 'reference_images', 'image_urls'])

export function isBlank(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === 'string' && value.trim() === '')
}

/** A reference entry the browser can show directly (upload ids are bare hashes and are not). */
export function isDisplayableImage(value: unknown): value is string {
  return typeof value === 'string' && /^(https?:\/\/|\/(?!\/)|data:image\/)/i.test(value)
}

function label(key: string, ctx: ParamFormatContext): string {
  return ctx.te(`params.${key}`) ? ctx.t(`params.${key}`) : key
}

function enumLabel(prefix: string, value: string, ctx: ParamFormatContext): string {
  return ctx.te(`${prefix}.${value}`) ? ctx.t(`${prefix}.${value}`) : value
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value)
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000)
}

/** One value, no key-specific knowledge. */
export function formatParamValue(value: unknown, ctx: Pick<ParamFormatContext, 't'>): string {
  if (isBlank(value)) return EMPTY
  if (typeof value === 'boolean') return value ? ctx.t('common.yes') : ctx.t('common.no')
  if (typeof value === 'number') return formatNumber(value)
  if (Array.isArray(value)) {
    const shown = value.filter((item) => !isBlank(item))
    if (!shown.length) return EMPTY
    return shown.map((item) => formatParamValue(item, ctx)).join(', ')
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => !isBlank(v))
    return entries.length ? JSON.stringify(Object.fromEntries(entries)) : EMPTY
  }
  return String(value)
}

function formatEntry(key: string, value: unknown, ctx: ParamFormatContext): ParamRow {
  const row: ParamRow = { key, label: label(key, ctx), value: '' }
  if (REFERENCE_KEYS.has(key) && Array.isArray(value)) {
    const refs = value.filter((item) => !isBlank(item))
    row.value = refs.length ? ctx.t('params.referenceCount', { n: refs.length }) : EMPTY
    const thumbs = refs.filter(isDisplayableImage)
    if (thumbs.length) row.thumbs = thumbs
    return row
  }
  if (key === 'index' && typeof value === 'number' && Number.isInteger(value)) {
    // stored 0-based; people count images from 1
    row.value = String(value + 1)
    return row
  }
  if (key.endsWith('_cny') && typeof value === 'number' && ctx.formatMoney) {
    row.value = ctx.formatMoney(value)
    return row
  }
  if (typeof value === 'string') {
    if (ctx.formatDate && key.endsWith('_at') && ISO_DATE.test(value)) row.value = ctx.formatDate(value)
    else if (key === 'app' && value === STUDIO_APP) row.value = ctx.t('app.name')
    else if (key === 'mode' || key === 'type') row.value = enumLabel('taskType', value, ctx)
    else if (key === 'optimize_prompt') row.value = enumLabel('generate.optimize', value, ctx)
    else if (key === 'provider') row.value = enumLabel('providers', value, ctx)
    else if (key === 'model') row.value = ctx.modelName?.(value) ?? value
    else if (key === 'size') row.value = value.replace(/^(\d+)\s*[x*×]\s*(\d+)$/i, '$1 × $2')
    else row.value = value
    return row
  }
  row.value = formatParamValue(value, ctx)
  return row
}

export function formatParams(params: Record<string, unknown> | null | undefined, ctx: ParamFormatContext): ParamRow[] {
  if (!params) return []
  const omit = new Set(ctx.omit ?? [])
  const entries = Object.entries(params).filter(([key, value]) => !omit.has(key) && !isBlank(value))
  const width = params.width
  const height = params.height
  // width + height → one "W × H" row, shown as the size unless a size/level was sent as well
  const pair = typeof width === 'number' && typeof height === 'number' && !omit.has('width') && !omit.has('height')
  const rows: ParamRow[] = []
  for (const [key, value] of entries) {
    if (pair && key === 'height') continue
    if (pair && key === 'width') {
      const sizeKey = isBlank(params.size) && !('dimensions' in params) ? 'size' : 'dimensions'
      rows.push({ key: 'width×height', label: label(sizeKey, ctx), value: `${width} × ${height}` })
      continue
    }
    rows.push(formatEntry(key, value, ctx))
  }
  return rows
}
