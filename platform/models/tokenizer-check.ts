import { jsonPreview } from './json-preview.js';
import { MODEL_LIMITS } from './model-limits.js';

/**
 * Checks a tokenizer against the model it ships with, before anything builds it: the counts are within the
 * shared limits (cuda/model-limits.json), and every id it can produce lies inside the model's vocabulary,
 * so a mismatched tokenizer is refused at deploy instead of failing requests with out-of-vocabulary ids.
 * Returns one line per problem, empty when consistent.
 */
export function tokenizerJsonProblems(json: unknown, vocabSize: number): string[] {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return ['tokenizer.json: must be a JSON object'];
  const tokenizer = json as Record<string, unknown>;
  const model = tokenizer.model as Record<string, unknown> | undefined;
  if (typeof model !== 'object' || model === null || Array.isArray(model)) return ['tokenizer.json: model must be an object'];
  const problems: string[] = [];
  const limits = MODEL_LIMITS.tokenizer;
  const vocab = vocabEntries(model.vocab, problems);
  const merges = Array.isArray(model.merges) ? model.merges.length : 0;
  if (merges > limits.merges) problems.push(`tokenizer.json: ${merges} merges exceed the limit of ${limits.merges}`);
  const added = tokenizer.added_tokens ?? [];
  if (!Array.isArray(added)) problems.push(`tokenizer.json: added_tokens must be a list, got ${jsonPreview(added)}`);
  else if (added.length > limits.addedTokens) problems.push(`tokenizer.json: ${added.length} added tokens exceed the limit of ${limits.addedTokens}`);
  if (problems.length > 0 || !Array.isArray(added)) return problems;
  const ids: [string, unknown][] = [
    ...vocab,
    ...added.map((token: unknown, i): [string, unknown] => [`added_tokens[${i}]`, (token as { id?: unknown } | null)?.id]),
  ];
  return idProblems(ids, vocabSize);
}

/** Problems when the byte-level tokenizer (no tokenizer.json) would produce ids the model does not have. */
export function byteLevelVocabProblems(vocabSize: number): string[] {
  return vocabSize < 256
    ? [`config.json: vocab_size ${vocabSize} is smaller than the 256 byte ids of the byte-level tokenizer used without tokenizer.json`]
    : [];
}

/** `[label, id]` pairs of the model's vocabulary: an object (BPE, WordPiece, WordLevel) or a Unigram list. */
function vocabEntries(vocab: unknown, problems: string[]): [string, unknown][] {
  const limit = MODEL_LIMITS.tokenizer.vocab;
  if (Array.isArray(vocab)) {
    // Unigram: [[piece, score], ...]; a piece's id is its position.
    if (vocab.length > limit) problems.push(`tokenizer.json: ${vocab.length} vocabulary entries exceed the limit of ${limit}`);
    return vocab.length === 0 ? [] : [[`model.vocab[${vocab.length - 1}]`, vocab.length - 1]];
  }
  if (typeof vocab !== 'object' || vocab === null) {
    problems.push(`tokenizer.json: model.vocab must be an object or a list, got ${jsonPreview(vocab)}`);
    return [];
  }
  const entries = Object.entries(vocab);
  if (entries.length > limit) problems.push(`tokenizer.json: ${entries.length} vocabulary entries exceed the limit of ${limit}`);
  return entries.map(([piece, id]) => [`token ${jsonPreview(piece, 40)}`, id]);
}

/** Malformed ids, and the largest id when it falls outside the model's vocabulary. */
function idProblems(ids: readonly [string, unknown][], vocabSize: number): string[] {
  let largest: [string, number] | undefined;
  for (const [label, id] of ids) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0)
      return [`tokenizer.json: ${label} has id ${jsonPreview(id)}, not a non-negative integer`];
    if (!largest || id > largest[1]) largest = [label, id];
  }
  if (largest && largest[1] >= vocabSize) {
    return [
      `tokenizer.json: ${largest[0]} has id ${largest[1]}, outside the model's vocabulary of ${vocabSize} (config.json vocab_size): the tokenizer does not belong to this model`,
    ];
  }
  return [];
}
