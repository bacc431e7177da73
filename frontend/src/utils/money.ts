/**
 * Money as the UI shows and reads it: yuan (CNY), formatted per locale, parsed from what the user
 * types. Sums are done in integer micro-yuan, as the server does, so 0.1 + 0.2 never shows 0.30000001.
 */

const MICRO = 1_000_000

export function toMicro(cny: number): number {
  return Math.round(cny * MICRO)
}

export function fromMicro(micro: number): number {
  return micro / MICRO
}

const formatters = new Map<string, Intl.NumberFormat>()

function formatter(locale: string): Intl.NumberFormat {
  let found = formatters.get(locale)
  if (!found) {
    // narrowSymbol: "¥" in every language (English would otherwise say "CN¥"). Prices go to
    // 0.1 fen (0.259), so up to 4 decimals, never fewer than 2.
    found = new Intl.NumberFormat(locale, {
      style: 'currency',
      currency: 'CNY',
      currencyDisplay: 'narrowSymbol',
      minimumFractionDigits: 2,
      maximumFractionDigits: 4,
    })
    formatters.set(locale, found)
  }
  return found
}

/** "¥0.20", "¥0.259", "¥1,234.50"; an em dash for no value. */
export function formatCny(cny: number | null | undefined, locale: string): string {
  if (cny === null || cny === undefined || !Number.isFinite(cny)) return '—'
  return formatter(locale).format(cny)
}

export type CnyInput = { ok: true; value: number | null } | { ok: false; key: string; params?: Record<string, number> }

/**
 * What the user typed as an amount of yuan: empty = no value (null); otherwise a plain decimal
 * number (no sign, at most 2 decimals) between 0 and `max`. Errors are i18n keys.
 */
export function parseCnyInput(text: string, max: number): CnyInput {
  const trimmed = text.trim().replace(/^[¥￥]\s*/, '').replace(/,/g, '')
  if (trimmed === '') return { ok: true, value: null }
  if (trimmed.startsWith('-')) return { ok: false, key: 'money.negative' }
  if (!/^\d+(\.\d*)?$|^\.\d+$/.test(trimmed)) return { ok: false, key: 'money.notANumber' }
  const [, decimals = ''] = trimmed.split('.')
  if (decimals.length > 2) return { ok: false, key: 'money.tooManyDecimals' }
  const value = Number(trimmed)
  if (!Number.isFinite(value)) return { ok: false, key: 'money.notANumber' }
  if (value > max) return { ok: false, key: 'money.tooLarge', params: { max } }
  return { ok: true, value }
}
