import type { SamplingGrammar } from '../../protocol/sampling.js';
import { fromTransferForm, toEngineGrammar } from '../../protocol/structured-output/transfer-form.js';
import { EngineError } from './engine.js';
import { vocabTokens } from './engine-vocab.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

type Request = (command: Record<string, unknown>) => Promise<unknown>;

/**
 * What one engine connection has registered by name: automata (`grammar`, named by their hash) and model
 * vocabularies (`vocab`, named by the model key). Each is sent once per connection, however many sequences
 * use it at once (the first registration is awaited by the others); a failed one is forgotten so the next
 * sequence tries again.
 */
export class GrammarRegistrations {
  private readonly grammars = new Map<string, Promise<unknown>>();
  private readonly vocabs = new Map<string, Promise<unknown>>();

  constructor(private readonly request: Request) {}

  /**
   * `add` naming its automaton and the model's vocabulary, each registered first. The engine drops least
   * recently used automata under its budget and answers `not_found` for them: registered again, and `add`
   * retried, once.
   */
  async add(add: Record<string, unknown>, grammar: SamplingGrammar, weightsDigest: WeightsDigest, modelDir: string): Promise<void> {
    const constrained = { ...add, grammar: grammar.hash, vocab: weightsDigest };
    await this.ensure(grammar, weightsDigest, modelDir);
    try {
      await this.request(constrained);
    } catch (error) {
      if (!(error instanceof EngineError && error.code === 'not_found')) throw error;
      this.forget(grammar.hash, weightsDigest);
      await this.ensure(grammar, weightsDigest, modelDir);
      await this.request(constrained);
    }
  }

  async ensure(grammar: SamplingGrammar, weightsDigest: WeightsDigest, modelDir: string): Promise<void> {
    await Promise.all([
      this.once(this.grammars, grammar.hash, () =>
        this.request({ op: 'grammar', grammar: grammar.hash, ...toEngineGrammar(fromTransferForm(grammar.automaton)) }),
      ),
      this.once(this.vocabs, weightsDigest, async () => this.request({ op: 'vocab', vocab: weightsDigest, tokens: await vocabTokens(modelDir) })),
    ]);
  }

  /** After the engine answered `not_found`: it dropped one of them, so both are sent again. */
  forget(hash: string, weightsDigest: WeightsDigest): void {
    this.grammars.delete(hash);
    this.vocabs.delete(weightsDigest);
  }

  private once(map: Map<string, Promise<unknown>>, name: string, register: () => Promise<unknown>): Promise<unknown> {
    let pending = map.get(name);
    if (!pending) {
      pending = register();
      map.set(name, pending);
      pending.catch(() => map.delete(name));
    }
    return pending;
  }
}
