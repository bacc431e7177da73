import { customRef, type Ref } from 'vue'

/** A ref whose readers see a new value only `delay` ms after the last write (search boxes). */
export function useDebouncedRef<T>(initial: T, delay = 300): { input: Ref<T>; value: Ref<T>; flush: () => void } {
  let immediate = initial
  let settled = initial
  let timer: ReturnType<typeof setTimeout> | null = null
  let triggerSettled: () => void = () => undefined

  const value = customRef<T>((track, trigger) => {
    triggerSettled = trigger
    return {
      get() {
        track()
        return settled
      },
      set(next) {
        settled = next
        immediate = next
        trigger()
      },
    }
  })

  function flush(): void {
    if (timer) clearTimeout(timer)
    timer = null
    if (settled !== immediate) {
      settled = immediate
      triggerSettled()
    }
  }

  const input = customRef<T>((track, trigger) => ({
    get() {
      track()
      return immediate
    },
    set(next) {
      immediate = next
      trigger()
      if (timer) clearTimeout(timer)
      timer = setTimeout(flush, delay)
    },
  }))

  return { input, value, flush }
}
