/**
 * How a task ended, as the UI tells it: "completed, but some images did not come" told apart from
 * a plain success, and the reasons in the UI's language.
 */
import type { Task, TaskStatus } from '@/api/types'
import { messageIn } from '@/utils/bilingual'

/** What the status tag shows: the task's status, or `partial` for completed-with-failures. */
export type StatusLook = TaskStatus | 'partial' | 'sending'

export function isPartial(task: Pick<Task, 'status' | 'failures'>): boolean {
  return task.status === 'completed' && task.failures.length > 0
}

export function statusLook(task: Pick<Task, 'status' | 'failures'>): StatusLook {
  return isPartial(task) ? 'partial' : task.status
}

/** "n of m": images kept and images asked for (never fewer than were kept or failed). */
export function imageCounts(task: Pick<Task, 'outputs' | 'failures' | 'expected_images'>): { done: number; total: number } {
  const done = task.outputs.length
  return { done, total: Math.max(task.expected_images || 1, done + task.failures.length) }
}

export interface FailureGroup {
  /** 1-based image numbers, ascending */
  images: number[]
  reason: string
}

/** The missing images, grouped by reason (a stream cut off costs every image after it). */
export function failureGroups(task: Pick<Task, 'failures'>, locale: string): FailureGroup[] {
  const groups = new Map<string, number[]>()
  for (const failure of [...task.failures].sort((a, b) => a.index - b.index)) {
    const reason = messageIn(failure, locale)
    groups.set(reason, [...(groups.get(reason) ?? []), failure.index + 1])
  }
  return [...groups].map(([reason, images]) => ({ images, reason }))
}
