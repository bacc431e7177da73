/**
 * Templates and styles inserted into the prompt. A template's `{name}` placeholders are filled
 * in (the backend finds the same names: app/services/prompt_templates.py); `{{` and `}}` are
 * literal braces. A style is appended to the prompt with the separator its language uses.
 */
const PLACEHOLDER = /\{\{|\}\}|\{([^{}\s][^{}]{0,39})\}/g
const CJK = /[\u3400-\u9fff]/

export function placeholdersOf(text: string): string[] {
  const names: string[] = []
  for (const match of text.matchAll(PLACEHOLDER)) {
    const name = match[1]?.trim()
    if (name && !names.includes(name)) names.push(name)
  }
  return names
}

/** The template with each placeholder replaced by its value (an empty value leaves the placeholder). */
export function fillTemplate(text: string, values: Record<string, string>): string {
  return text.replace(PLACEHOLDER, (whole, name: string | undefined) => {
    if (whole === '{{') return '{'
    if (whole === '}}') return '}'
    const value = values[(name ?? '').trim()]?.trim()
    return value ? value : whole
  })
}

/** The prompt with a style fragment after it: "，" after Chinese, ", " otherwise; once only. */
export function appendStyle(prompt: string, fragment: string): string {
  const base = prompt.trim()
  const extra = fragment.trim()
  if (!base) return extra
  if (!extra || base.endsWith(extra)) return base
  const last = base.at(-1) ?? ''
  if (/[，。；、]/.test(last)) return `${base}${extra}`
  if (/[,.;]/.test(last)) return `${base} ${extra}`
  return `${base}${CJK.test(last) ? '，' : ', '}${extra}`
}
