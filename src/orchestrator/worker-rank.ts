// What a worker process serves on its GPU: attention-pool requests (AttentionRank: KV shards of long sequences)
// and the static baseline's requests (StaticRankServer: one TP × PP rank per client). Each keeps its clients
// apart; a client that goes away has both kinds of state freed.
import type { Gpu } from '../gpu/index.js';
import { isStaticRequest, StaticRankServer } from './baselines/static-remote.js';
import { AttentionRank } from './pool/attention-rank.js';
import type { RankHandler } from './transport/link.js';

export class WorkerRank {
  readonly attention: AttentionRank;
  readonly statics: StaticRankServer;

  constructor(readonly gpu: Gpu, readonly rank: number) {
    this.attention = new AttentionRank(gpu, rank);
    this.statics = new StaticRankServer(gpu);
  }

  readonly handler: RankHandler = (req, tensors, client) =>
    isStaticRequest(req) ? this.statics.handle(req, tensors, client) : this.attention.handler(req, tensors, client);

  /** Pool shards and static ranks held, over every client. */
  get sequences(): number { return this.attention.sequences + this.statics.size; }

  dropClient(client: string): void {
    this.attention.dropClient(client);
    this.statics.dropClient(client);
  }

  dispose(): void {
    this.attention.dispose();
    this.statics.dispose();
  }
}
