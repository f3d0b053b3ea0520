// etcd3 reads rpc.proto (and the kv/auth protos it imports) from disk next to its own code when
// it is first required. A single executable has no such directory, so the build parses the protos
// once, with the options etcd3 passes, and hands @grpc/proto-loader the parsed tree (fromJSON)
// instead of a path. test/artifact checks that both give the same services and message shapes.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The options etcd3 1.x passes to loadSync (lib/connection-pool.js); keepCase shapes the tree. */
export const ETCD3_PROTO_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** Where etcd3 keeps its protos, resolved the way etcd3 itself is resolved. */
export function etcd3ProtoPath() {
  return join(dirname(require.resolve('etcd3/package.json')), 'proto', 'rpc.proto');
}

/** The protobufjs JSON tree of etcd3's rpc.proto and its imports, parsed as etcd3 parses it. */
export function etcd3ProtoJson() {
  const protoLoaderRequire = createRequire(require.resolve('etcd3/package.json'));
  // The same util proto-loader's own loadSync uses, from the copy etcd3 resolves.
  const util = protoLoaderRequire('@grpc/proto-loader/build/src/util.js');
  return util.loadProtosWithOptionsSync(etcd3ProtoPath(), ETCD3_PROTO_OPTIONS).toJSON();
}

/** The call in etcd3's connection-pool.js that reads the proto from disk, and its replacement. */
export const ETCD3_LOAD_CALL = '(0, proto_loader_1.loadSync)(`${__dirname}/../proto/rpc.proto`';

/** Rewrite etcd3's connection-pool.js source so it loads the embedded tree instead of the file. */
export function patchConnectionPool(source) {
  const at = source.indexOf(ETCD3_LOAD_CALL);
  if (at < 0 || source.indexOf(ETCD3_LOAD_CALL, at + 1) >= 0) {
    throw new Error('etcd3 no longer loads rpc.proto the way scripts/build-artifact-protos.mjs expects: update the patch');
  }
  return source.replace(ETCD3_LOAD_CALL, `(0, proto_loader_1.fromJSON)(${JSON.stringify(etcd3ProtoJson())}`);
}
