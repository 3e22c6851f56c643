// The reference side of tests/nosana: answers requests with the official Nosana npm clients.
//
// Reads one JSON array of requests on stdin and prints one JSON array of answers on stdout, in
// order. Instruction builders come from @nosana/kit (its client composes the generated builders
// of @nosana/jobs-program with the stake PDA and token accounts, as the official node does);
// account encoders/decoders from @nosana/jobs-program and @nosana/stake-program; CIDs from
// @nosana/ipfs; token accounts from @solana-program/token. Integers travel as decimal strings,
// bytes as hex. scripts/setup.sh installs the pinned packages (package.json, package-lock.json)
// into build/nosana-oracle/, and the tests copy this file next to them.
import { createNosanaClient, NosanaNetwork } from "@nosana/kit";
import * as jobs from "@nosana/jobs-program";
import * as staking from "@nosana/stake-program";
import { ipfsHashToSolBytesArray, solBytesArrayToIpfsHash } from "@nosana/ipfs";
import { findAssociatedTokenPda, TOKEN_PROGRAM_ADDRESS } from "@solana-program/token";
import { address, createNoopSigner } from "@solana/kit";
// The kit's own instruction helpers, called with its real derivations; only their chain reads (the
// job, the run, whether token accounts exist) are answered from the request.
import * as kitInstructions from "@nosana/kit/dist/services/programs/jobs/instructions/index.js";
import { getStaticAccounts } from "@nosana/kit/dist/utils/getStaticAccounts.js";

const METADATA_PROGRAM = address("metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s");

const CODECS = {
  MarketAccount: [jobs.getMarketAccountEncoder, jobs.getMarketAccountDecoder],
  JobAccount: [jobs.getJobAccountEncoder, jobs.getJobAccountDecoder],
  RunAccount: [jobs.getRunAccountEncoder, jobs.getRunAccountDecoder],
  StakeAccount: [staking.getStakeAccountEncoder, staking.getStakeAccountDecoder],
};
// Fields the coders hold as bigint (u64/i64/u128) and as raw bytes.
const BIG = new Set(["jobExpiration", "jobPrice", "jobTimeout", "nodeXnosMinimum", "price", "timeEnd",
  "timeStart", "timeout", "time", "amount", "duration", "timeUnstake", "xnos"]);
const BYTES = new Set(["ipfsJob", "ipfsResult", "discriminator"]);

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const unhex = (text) => new Uint8Array(Buffer.from(text, "hex"));

function toJs(fields) {
  const out = {};
  for (const [key, value] of Object.entries(fields)) {
    if (BIG.has(key)) out[key] = BigInt(value);
    else if (BYTES.has(key)) out[key] = unhex(value);
    else if (key === "queue") out[key] = value.map((k) => address(k));
    else if (typeof value === "string") out[key] = address(value);
    else out[key] = value;
  }
  return out;
}

function toJson(fields) {
  const out = {};
  for (const [key, value] of Object.entries(fields)) {
    if (typeof value === "bigint") out[key] = value.toString();
    else if (value instanceof Uint8Array) out[key] = hex(value);
    else out[key] = value;
  }
  return out;
}

function instructionJson(ix) {
  return {
    program: ix.programAddress,
    data: hex(ix.data),
    // AccountRole: bit 1 = signer, bit 0 = writable.
    accounts: ix.accounts.map((m) => ({ address: m.address, signer: (m.role & 2) !== 0, writable: (m.role & 1) !== 0 })),
  };
}

function client(request) {
  const network = request.network === "devnet" ? NosanaNetwork.DEVNET : NosanaNetwork.MAINNET;
  const nosana = createNosanaClient(network, { logLevel: "none" });
  nosana.wallet = createNoopSigner(address(request.authority));
  return nosana;
}

// The helper object JobsProgram hands its instruction functions, with the RPC reads replaced by
// the accounts given in the request (kit-shaped: addresses as strings, integers as numbers).
function helpers(request) {
  const nosana = client(request);
  const config = nosana.config.programs;
  const job = request.job && { ...request.job, price: Number(request.job.price), state: request.job.state ?? 0,
    ipfsResult: request.job.ipfsResult ?? null };
  const run = request.run && { ...request.run, address: address(request.run.address) };
  return {
    config,
    deps: {
      solana: { pda: (seeds, program) => nosana.solana.pda(seeds, program), getCreateATAInstructionIfNeeded: async () => null },
      logger: { error() {} },
    },
    client: { ...jobs, fetchRunAccount: async () => ({ data: run }) },
    get: async () => job,
    getRuns: async () => (run ? [run] : []),
    getRequiredWallet: () => nosana.wallet,
    getStaticAccounts: () => getStaticAccounts(config, nosana.solana),
    getNosATA: (owner) => nosana.nos.getATA(owner),
  };
}

async function answer(request) {
  switch (request.op) {
    case "work": {
      const nft = request.nft ? address(request.nft) : undefined;
      return instructionJson(await client(request).jobs.work({ market: address(request.market), nft }));
    }
    case "stop": {
      const node = request.node ? address(request.node) : undefined;
      return instructionJson(await client(request).jobs.stop({ market: address(request.market), node }));
    }
    case "claim": {
      // The kit has no claim: its work's credential accounts (stake, nft, metadata) in the generated builder.
      const nosana = client(request);
      const nft = request.nft ? address(request.nft) : undefined;
      const work = await nosana.jobs.work({ market: address(request.market), nft });
      const [stake, nftAta, metadata] = work.accounts.slice(3, 6).map((m) => m.address);
      const ix = jobs.getClaimInstruction(
        { job: address(request.job), run: createNoopSigner(address(request.run)), market: address(request.market),
          stake, nft: nftAta, metadata, payer: nosana.wallet, authority: nosana.wallet },
        { programAddress: nosana.config.programs.jobsAddress },
      );
      return instructionJson(ix);
    }
    case "finish": {
      const ixs = await kitInstructions.finish(
        { job: address(request.jobAddress), ipfsResultsHash: request.cid }, helpers(request));
      return { instructions: ixs.map(instructionJson) };
    }
    case "complete": {
      const h = helpers(request);
      return instructionJson(await kitInstructions.complete({ job: address(request.jobAddress), ipfsResultsHash: request.cid }, h));
    }
    case "quit":
      return instructionJson(await kitInstructions.quit({ run: address(request.run.address) }, helpers(request)));
    case "encode": {
      const [encoder] = CODECS[request.account];
      return { hex: hex(encoder().encode(toJs(request.fields))) };
    }
    case "decode": {
      const [, decoder] = CODECS[request.account];
      return { fields: toJson(decoder().decode(unhex(request.hex))) };
    }
    case "stake_pda": {
      const nosana = client(request);
      const { nosTokenAddress, stakeAddress } = nosana.config.programs;
      return { address: await nosana.solana.pda(["stake", nosTokenAddress, address(request.authority)], stakeAddress) };
    }
    case "ata": {
      const [ata] = await findAssociatedTokenPda({
        mint: address(request.mint), owner: address(request.owner), tokenProgram: TOKEN_PROGRAM_ADDRESS,
      });
      return { address: ata };
    }
    case "metadata_pda": {
      const nosana = client(request);
      return { address: await nosana.solana.pda(["metadata", METADATA_PROGRAM, address(request.mint)], METADATA_PROGRAM) };
    }
    case "cid":
      return { cid: solBytesArrayToIpfsHash(Array.from(unhex(request.hex))) };
    case "cid_bytes":
      return { hex: hex(Uint8Array.from(ipfsHashToSolBytesArray(request.cid))) };
    default:
      throw new Error(`unknown op ${request.op}`);
  }
}

let input = "";
for await (const chunk of process.stdin) input += chunk;
const answers = [];
for (const request of JSON.parse(input)) {
  try {
    answers.push(await answer(request));
  } catch (error) {
    answers.push({ error: String(error?.message ?? error) });
  }
}
process.stdout.write(JSON.stringify(answers));
