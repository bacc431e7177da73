import { describe, expect, it } from 'vitest'
import { appendStyle, fillTemplate, placeholdersOf } from '@/utils/promptTemplates'

describe('prompt templates', () => {
  it('finds placeholders once, in order, as the backend does', () => {
    expect(placeholdersOf('{product} on {surface}, by {product}')).toEqual(['product', 'surface'])
    expect(placeholdersOf('{{literal}} and {主体}')).toEqual(['主体'])
    expect(placeholdersOf('no { placeholders } here {}')).toEqual([])
  })

  it('fills placeholders, keeps escaped braces and leaves empty ones visible', () => {
    expect(fillTemplate('{product} on {surface}; {product}!', { product: 'a teapot', surface: ' oak ' })).toBe(
      'a teapot on oak; a teapot!',
    )
    expect(fillTemplate('{{x}} {x}', { x: 'y' })).toBe('{x} y')
    expect(fillTemplate('{a} and {b}', { a: 'one', b: '  ' })).toBe('one and {b}')
  })

  it('appends a style with the separator of the language, once', () => {
    expect(appendStyle('', ' watercolour ')).toBe('watercolour')
    expect(appendStyle('a fox', 'watercolour')).toBe('a fox, watercolour')
    expect(appendStyle('一只狐狸', '水彩画风格')).toBe('一只狐狸，水彩画风格')
    expect(appendStyle('一只狐狸。', '水彩画风格')).toBe('一只狐狸。水彩画风格')
    expect(appendStyle('a fox,', 'watercolour')).toBe('a fox, watercolour')
    expect(appendStyle('a fox, watercolour', 'watercolour')).toBe('a fox, watercolour')
  })
})
