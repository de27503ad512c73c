import type { ComponentChildren } from 'preact';
import { functionColor } from '../format.js';

/** Fill pattern id of a function's hatch (weights loaded while its turn waited). */
export function hatchId(names: readonly string[], name: string): string {
  return `tp-hatch-${Math.max(0, names.indexOf(name))}`;
}

/** Stripe patterns per function, defined once for every row's SVG to use. */
export function HatchDefs({ names }: { names: readonly string[] }) {
  return (
    <svg class="defs" width="0" height="0" aria-hidden="true">
      <defs>
        {[...names.map((name) => [hatchId(names, name), functionColor(name)] as const), ['tp-hatch-key', '#6b7280'] as const].map(([id, color]) => (
          <pattern id={id} width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
            <rect width="4" height="4" fill="#fff" />
            <rect width="2" height="4" fill={color} />
          </pattern>
        ))}
      </defs>
    </svg>
  );
}

function Key({ children }: { children: ComponentChildren }) {
  return (
    <svg class="key" width="16" height="12" viewBox="0 0 16 12" aria-hidden="true">
      {children}
    </svg>
  );
}

/** Each function's color (`data-function` on its entry), then what every kind of mark means. */
export function TimelineLegend({ names }: { names: readonly string[] }) {
  return (
    <ul class="legend">
      {names.map((name) => (
        <li data-function={name} key={name}>
          <i class="swatch" style={{ background: functionColor(name) }} />
          {name}
        </li>
      ))}
      <li>
        <Key>
          <path class="mark switch" d="M4.5,1 h7 L8,8 Z" />
        </Key>
        switch
      </li>
      <li title="turns too short to draw one by one in this window: each function's share of run time">
        <Key>
          <rect x="3" y="0" width="10" height="8" fill="#9ca3af" />
          <rect x="3" y="8" width="10" height="4" fill="#4b5563" />
        </Key>
        pooled turns (share)
      </li>
      <li>
        <Key>
          <rect x="1.5" y="2.5" width="13" height="7" fill="url(#tp-hatch-key)" stroke="#6b7280" />
        </Key>
        load (turn waited)
      </li>
      <li>
        <Key>
          <rect x="1.5" y="2.5" width="13" height="7" fill="none" stroke="#6b7280" />
        </Key>
        prefetch
      </li>
      <li>
        <Key>
          <rect class="park" x="1.5" y="2.5" width="13" height="7" />
        </Key>
        KV park
      </li>
      <li>
        <Key>
          <rect class="restore" x="1.5" y="2.5" width="13" height="7" />
        </Key>
        KV restore
      </li>
      <li>
        <Key>
          <line class="mark evict" x1="8" x2="8" y1="0" y2="12" />
        </Key>
        evict
      </li>
    </ul>
  );
}
