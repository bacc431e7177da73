/**
 * Messages the server stores in both languages (a task's error and per-image failures, /health
 * warnings): they are read later by clients in either language, so the UI picks one.
 */
export interface Bilingual {
  message: string
  message_zh?: string | null
}

/** The message in `locale` (the English one when an old record has no Chinese). */
export function messageIn(item: Bilingual, locale: string): string {
  return locale.startsWith('zh') ? item.message_zh || item.message : item.message
}
