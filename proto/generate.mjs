#!/usr/bin/env node
// `npm run proto`: regenerates src/gen/ (the TypeScript types of every message and service in
// proto/) with @grpc/proto-loader's generator, the one grpc-js ships for the way Tandem loads
// protos (at run time, src/util/proto.ts). The options are the ones the loader uses: camelCase
// fields, 64-bit integers and enums as numbers, defaults filled in, oneofs named by `kind`.
// The output is committed; test/unit/gen/gen.test.ts fails when it is out of date.
//
//   node proto/generate.mjs [OUT_DIR]     (default: src/gen)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROTO_FILES = [
  'tandem/admin/v1/admin.proto',
  'tandem/forward/v1/forward.proto',
  'tandem/replication/v1/replication.proto',
];

export const HEADER = [
  '// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).',
  '// biome-ignore-all format: generated code',
  '// biome-ignore-all lint: generated code',
  '// biome-ignore-all assist/source/organizeImports: generated code',
  '',
].join('\n');

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** Writes the generated tree to `outDir` (replacing what was there). */
export function generate(outDir) {
  const generator = createRequire(import.meta.url).resolve('@grpc/proto-loader/build/bin/proto-loader-gen-types.js');
  fs.rmSync(outDir, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [
      generator,
      '--longs=Number',
      '--enums=Number',
      '--defaults',
      '--oneofs',
      '--includeComments',
      '--grpcLib=@grpc/grpc-js',
      '--importFileExtension=.js',
      '-I',
      'proto',
      '-O',
      outDir,
      ...PROTO_FILES,
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  for (const file of listFiles(outDir)) {
    fs.writeFileSync(file, HEADER + fs.readFileSync(file, 'utf8'));
  }
}

/** Every file under `dir`, sorted. */
export function listFiles(dir) {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  generate(path.resolve(root, process.argv[2] ?? 'src/gen'));
}
