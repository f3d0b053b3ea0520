// Kubernetes resource quantities (`500m`, `0.5`, `256Mi`, `1G`, `12e3`), so a reservation reads as it
// would in a pod spec. The grammar is apimachinery's resource.Quantity:
//   <quantity> ::= <signedNumber><suffix>
//   <suffix>   ::= Ki | Mi | Gi | Ti | Pi | Ei | n | u | m | "" | k | M | G | T | P | E | (e|E)<signedInteger>
// Values are JS numbers: CPU is kept in cores rounded up to millicores, memory in whole bytes rounded
// up (as Kubernetes rounds a request up to its precision). Negative, non-finite and absurd values are
// refused with a reason; nothing here throws.

const QUANTITY_RE = /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|[numkMGTPE])?$/;

const MULTIPLIERS: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Longest quantity string read (Kubernetes' own limit is about this size). */
export const MAX_QUANTITY_CHARS = 64;
/** Most cores a reservation may name: more than any one machine has, small enough to stay exact. */
export const MAX_CPU_CORES = 1_000_000;
/** Most bytes a reservation may name (8 PiB, below 2^53: every byte count stays an exact integer). */
export const MAX_MEMORY_BYTES = 8 * 2 ** 50;

/** A parsed quantity, or why the text is not one. */
export type QuantityResult = { value: number } | { problem: string };

/** Parse a quantity string into a plain number (no range checks beyond finiteness). */
export function parseQuantity(text: string): QuantityResult {
  if (text.length > MAX_QUANTITY_CHARS) return { problem: `must be at most ${MAX_QUANTITY_CHARS} characters` };
  const m = QUANTITY_RE.exec(text.trim());
  if (!m) return { problem: 'must be a quantity such as 500m, 0.5, 2, 256Mi or 1G (Kubernetes quantity syntax)' };
  const [, sign, digits, suffix = ''] = m;
  let value: number;
  if (suffix.startsWith('e') || suffix.startsWith('E')) value = Number(`${digits}${suffix}`);
  else {
    const mult = MULTIPLIERS[suffix];
    if (mult === undefined) return { problem: `unknown suffix ${JSON.stringify(suffix)}` };
    value = Number(digits) * mult;
  }
  if (!Number.isFinite(value)) return { problem: 'is too large' };
  return { value: sign === '-' ? -value : value };
}

/** A quantity given as a YAML/JSON number or a string. */
function quantityOf(value: unknown): QuantityResult {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { problem: 'is too large' };
    return { value };
  }
  if (typeof value === 'string') return parseQuantity(value);
  return { problem: 'must be a number or a quantity string such as 500m or 256Mi' };
}

/** CPU in cores (rounded up to millicores), or why not: `0.5`, `500m`, `2`. */
export function parseCpu(value: unknown): QuantityResult {
  const q = quantityOf(value);
  if ('problem' in q) return q;
  if (q.value < 0) return { problem: 'must not be negative' };
  if (q.value > MAX_CPU_CORES) return { problem: `must be at most ${MAX_CPU_CORES} cores` };
  return { value: Math.ceil(Math.round(q.value * 1e9) / 1e6) / 1000 };
}

/** Memory in bytes (rounded up to a whole byte), or why not: `256Mi`, `1G`, `1073741824`. */
export function parseMemory(value: unknown): QuantityResult {
  const q = quantityOf(value);
  if ('problem' in q) return q;
  if (q.value < 0) return { problem: 'must not be negative' };
  if (q.value > MAX_MEMORY_BYTES) return { problem: 'must be at most 8Pi' };
  return { value: Math.ceil(q.value) };
}

/** Cores as a quantity that parses back to the same value: `500m`, `2`, `1500m`. */
export function formatCpu(cores: number): string {
  const milli = Math.round(cores * 1000);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

/** Bytes as a quantity that parses back to the same value: `256Mi` when exact, else plain bytes. */
export function formatMemory(bytes: number): string {
  for (const s of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const) {
    const m = MULTIPLIERS[s]!;
    if (bytes >= m && bytes % m === 0) return `${bytes / m}${s}`;
  }
  return String(bytes);
}

/** Bytes for people, one decimal in the largest binary unit: `1.5Gi`, `300Mi`, `512`. */
export function humanBytes(bytes: number): string {
  for (const s of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const) {
    const m = MULTIPLIERS[s]!;
    if (bytes >= m) {
      const v = bytes / m;
      return `${v >= 100 ? Math.round(v) : Number(v.toFixed(1))}${s}`;
    }
  }
  return String(Math.round(bytes));
}

/** Cores for people: `0.25`, `1.5`, `2` (two decimals at most). */
export function humanCpu(cores: number): string {
  return String(Number(cores.toFixed(2)));
}
