// Building the page from values. Every value becomes a text node or an attribute set one by one;
// nothing here parses HTML, so a snapshot's strings (process names, log lines, paths) can never
// become markup. The page's CSP also enforces Trusted Types, which makes innerHTML with a string throw.
import { isGuideLink } from './api.js';

export type Child = Node | string | number | null | undefined | false | readonly Child[];

/** Attributes; `on*` and `style` are refused (the CSP forbids inline handlers and style attributes). */
export type Attrs = Readonly<Record<string, string | number | boolean | null | undefined>>;

function setAttrs(el: Element, attrs: Attrs | undefined): void {
  if (!attrs) return;
  for (const [name, value] of Object.entries(attrs)) {
    if (/^on/i.test(name) || name.toLowerCase() === 'style') throw new Error(`The attribute ${name} is not allowed.`);
    if (value === null || value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
}

function append(parent: Node, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c as readonly Child[]);
    else parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : (c as Node));
  }
}

/** An HTML element with attributes and children (strings become text). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs ?? undefined);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element; sizes go in presentation attributes, which the CSP allows. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs ?? undefined);
  append(el, children);
  return el;
}

/** Replaces an element's children. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A link inside the page (hash route). */
export function link(href: string, attrs: Attrs | null, ...children: Child[]): HTMLAnchorElement {
  return h('a', { ...attrs, href }, ...children);
}

/** An outside link: only http(s), opened without referrer or opener. */
export function externalLink(url: string | undefined, text: string): Node {
  // A rule guide the service itself serves (a reason code's section) is the one same-origin link.
  if (url && isGuideLink(url)) return h('a', { href: url, target: '_blank', rel: 'noopener' }, text);
  if (!url || !/^https?:\/\//i.test(url)) return document.createTextNode(text);
  return h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, text);
}
