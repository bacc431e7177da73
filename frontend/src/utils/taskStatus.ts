import type { TaskStatus } from '@/api/types'

/** A task in one of these states will not change again (except by a retry, which is a new task). */
export const TERMINAL: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled'])

export function isTerminal(status: TaskStatus | string): boolean {
  return TERMINAL.has(status as TaskStatus)
}
