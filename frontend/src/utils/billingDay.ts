/**
 * Billing days as the server counts them: calendar dates (YYYY-MM-DD) in the billing time zone,
 * and the ranges the Usage page offers. Dates are handled as UTC midnights so no local time zone
 * or daylight-saving change can shift a day.
 */

export type RangePreset = 'last7' | 'last30' | 'thisMonth'

export interface DayRange {
  from: string
  to: string
}

const DAY_MS = 86_400_000
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/

/** Today's date in `timeZone` (an IANA name; an unknown one falls back to UTC). */
export function todayIn(timeZone: string, now: Date = new Date()): string {
  let parts: Intl.DateTimeFormatPart[]
  try {
    parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(now)
  } catch {
    return now.toISOString().slice(0, 10)
  }
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? ''
  return `${get('year')}-${get('month')}-${get('day')}`
}

/** Milliseconds of the day's UTC midnight; NaN for anything that is not a real YYYY-MM-DD date. */
export function dayToUtc(day: string): number {
  const match = DAY_RE.exec(day)
  if (!match) return Number.NaN
  const [, y, m, d] = match.map(Number) as [number, number, number, number]
  const ms = Date.UTC(y, m - 1, d)
  return new Date(ms).getUTCDate() === d ? ms : Number.NaN
}

export function isDay(day: string): boolean {
  return Number.isFinite(dayToUtc(day))
}

export function addDays(day: string, n: number): string {
  return new Date(dayToUtc(day) + n * DAY_MS).toISOString().slice(0, 10)
}

/** Days from `from` to `to`, both counted (1 for a single day). */
export function daysInRange(range: DayRange): number {
  return Math.round((dayToUtc(range.to) - dayToUtc(range.from)) / DAY_MS) + 1
}

export function presetRange(preset: RangePreset, today: string): DayRange {
  switch (preset) {
    case 'last7':
      return { from: addDays(today, -6), to: today }
    case 'last30':
      return { from: addDays(today, -29), to: today }
    case 'thisMonth':
      return { from: `${today.slice(0, 8)}01`, to: today }
  }
}

/** Which preset a range is, if any (so the preset buttons show the one in force). */
export function presetOf(range: DayRange, today: string): RangePreset | null {
  const presets: RangePreset[] = ['last7', 'last30', 'thisMonth']
  return presets.find((p) => {
    const r = presetRange(p, today)
    return r.from === range.from && r.to === range.to
  }) ?? null
}
