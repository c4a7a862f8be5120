// Small helpers for building the page's elements without HTML strings, so nothing a player or
// the server wrote is ever parsed as markup.

/** An element with attributes and children; strings become text nodes. */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const created = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) created.setAttribute(name, value);
  created.append(...children);
  return created;
}

/** A labelled form field: the label names the input, and an optional hint describes it. */
export function field(
  label: string,
  input: HTMLInputElement | HTMLSelectElement,
  hint?: string,
): HTMLDivElement {
  const wrapper = element("div", { class: "field" });
  wrapper.append(element("label", { for: input.id }, label));
  if (hint !== undefined) {
    const hintId = `${input.id}-hint`;
    wrapper.append(element("p", { class: "hint", id: hintId }, hint));
    input.setAttribute("aria-describedby", hintId);
  }
  wrapper.append(input);
  return wrapper;
}

/** A status line that screen readers announce when its text changes. */
export function statusLine(id: string): HTMLParagraphElement {
  return element("p", { id, class: "status", role: "status", "aria-live": "polite" });
}

/** A message of refusal, announced at once. */
export function alertLine(id: string): HTMLParagraphElement {
  return element("p", { id, class: "alert", role: "alert" });
}
