/*
 * Confidential accounts (transaction kind CONFIDENTIAL) as a Promela model, checked
 * exhaustively by SPIN for conservation of value and no double spend
 * (tests/models/test_spin.py; docs/privacy.md, "Model checking").
 *
 * What is modelled. N accounts, each with a public balance, a nonce and (once registered)
 * a confidential balance; the regulator key is set (before it is, every operation fails
 * with ConfidentialUnavailable and changes nothing). One process plays every party at
 * once: it builds transactions for any account into a pool, and executes any transaction
 * of the pool, again and again. A transaction names its account's next nonce or, as a
 * dishonest or confused client would, the nonce of the one it built before (two
 * transactions, one nonce); its proof is made for the balance its account reads when it
 * builds it, or for the one it read before (a stale view). Pool entries are never
 * removed, so every transaction can be delivered again at any time (a replay), in any
 * order, and any two transactions can land in one block; a transaction's execution is one
 * atomic step, as it is in the executor (a block is executed serially; its writes are the
 * writes of its transactions in order, so checking every order of single transactions
 * covers every block). The pool is kept sorted (a multiset), which merges states that
 * differ only in the order of its entries.
 *
 * Mapping of each rule to the Python executor (src/xinlian/...):
 *   execute(i), its first guard      ledger/rules.py:executable_error (the nonce is the
 *                                    account's next, the balance covers the fee); otherwise
 *                                    the transaction is left out and changes nothing.
 *   the fee and nonce                execution/executor.py:Executor._charge (the fee is
 *                                    burned and the nonce spent even if the operation then
 *                                    fails; the operation's writes are dropped on failure:
 *                                    Executor._execute's child Overlay).
 *   REGISTER                         execution/confidential.py:Confidential._register
 *                                    (once per account; the balance starts as zero).
 *   DEPOSIT                          Confidential._deposit (a registered account,
 *                                    1 <= amount <= MAX_AMOUNT, public balance >= amount;
 *                                    public -> confidential and conf/supply += amount).
 *   TRANSFER                         Confidential.execute + _transfer (receiver registered
 *                                    and not the sender; StaleBalance unless the balance
 *                                    digest named equals the current balance's; the proof).
 *   WITHDRAW                         Confidential.execute + _withdraw (1 <= amount, the
 *                                    StaleBalance check, the proof; confidential -> public
 *                                    and conf/supply -= amount).
 *
 * Abstraction (what the model leaves out):
 * - Cryptography is assumed sound. A balance is its value plus a version that changes on
 *   every write: a digest names one version (no collisions). Two writes can give the same
 *   ciphertext on chain (deposit a, then withdraw a); the model then has two versions and
 *   refuses a proof the chain would accept, which loses no violation: the value is the
 *   same, so the proof's statement is true either way.
 * - A proof is the predicate it proves (soundness of the Fiat-Shamir sigma proof and of
 *   the aggregated Bulletproof, transfer.py:verify_transfer / verify_withdraw): the
 *   transaction carries its statement (the balance version it was made for, that
 *   balance's value, the amount) and the verifier accepts exactly when the statement
 *   holds: amount and remaining balance in [0, 2^32). A party may name any amount; it can
 *   only name a balance it has read, with its true value (a ciphertext determines its
 *   value under the owner's key).
 * - Proofs are bound to their transaction (proof_context: chain, sender, nonce) and the
 *   sender's key; the model does not copy proofs between transactions: a proof copied to
 *   another sender does not verify under that sender's key and balance, and one copied
 *   by its own sender under another nonce is a new spend of that sender's current
 *   balance, which the model's own transactions already cover.
 * - In the Python, the transfer statement is assembled from the sender's current balance,
 *   so a proof made for an older balance also fails verification; the StaleBalance check
 *   is the explicit, cheap form of that binding. The model folds both into one check
 *   (STALE_CHECK): the proof holds for the balance it names, and the executor requires
 *   that balance to be the current one. The mutant (-DMUTANT_NO_STALE_CHECK) is a verifier
 *   that checks the proof against the balance the transaction names and forgets the link:
 *   SPIN finds two withdrawals proven against one balance, the second an overdraft.
 *   A second mutant (-DMUTANT_NO_NONCE_CHECK) drops the nonce rule: SPIN finds a
 *   transaction applied twice.
 * - Scope: 4 transactions a run, 2 accounts (3 in the slow test), amounts up to 1, 4 of
 *   public value each, a fee of 1. Balances stay far below 2^32, so the range bounds
 *   reduce to "not negative". The regulator's tracing ciphertexts and openings move no
 *   value and are left out; one FEE per transaction stands for base + fuel fee (both are
 *   burned from the public balance).
 *
 * Invariants, asserted after every step:
 *   sum(public) + sum(confidential) + burned == N * PUB0    (value is conserved)
 *   conf/supply == sum(confidential)                        (the supply key is exact)
 *   every balance >= 0                                      (no overdraft)
 *   every pool entry applied at most once, and at most one transaction per (sender,
 *   nonce) applied                                          (no transfer applied twice)
 */

#ifndef N
#define N 2       /* accounts */
#endif
#ifndef PUB0
#define PUB0 4    /* each account's public balance at genesis */
#endif
#ifndef FEE
#define FEE 1     /* burned per included transaction */
#endif
#ifndef MAXV
#define MAXV 1    /* largest amount a transaction names */
#endif
#ifndef POOL
#define POOL 4    /* transactions built in one run */
#endif
#define MAXNONCE POOL

mtype = { REGISTER, DEPOSIT, TRANSFER, WITHDRAW };

typedef Tx {
  mtype kind;
  byte sender;
  byte nonce;
  byte to;
  byte amount;
  byte ver;      /* the balance the proof was made for (the digest in the payload) */
  byte seen      /* that balance's value (fixed by the ciphertext) */
};

short pub[N];
short conf[N];
bool registered[N];
byte version[N];   /* changes on every write of the confidential balance */
byte nonce[N];
short supply;      /* conf/supply */
short burned;

Tx pool[POOL];
byte npool;
byte applied[POOL];
byte nonce_used[N * MAXNONCE];  /* operations applied per (sender, nonce) */

/* what each account last read of its own balance: the version and the value */
byte view_ver[N];
byte view_val[N];
byte built[N];     /* nonces each account has used in the pool */

inline check_invariants() {
  total = 0;
  confsum = 0;
  k = 0;
  do
  :: k < N ->
       assert(pub[k] >= 0 && conf[k] >= 0);
       total = total + pub[k] + conf[k];
       confsum = confsum + conf[k];
       k++
  :: else -> break
  od;
  assert(total + burned == N * PUB0);
  assert(supply == confsum);
  k = 0;
  do
  :: k < POOL -> assert(applied[k] <= 1); k++
  :: else -> break
  od;
  k = 0;
  do
  :: k < N * MAXNONCE -> assert(nonce_used[k] <= 1); k++
  :: else -> break
  od;
  total = 0; confsum = 0; k = 0
}

/* The proof's predicate and its binding to the current balance (see the header). */
#ifdef MUTANT_NO_STALE_CHECK
#define STALE_CHECK(t) true
#else
#define STALE_CHECK(t) (t.ver == version[t.sender])
#endif

/* ledger/rules.py:executable_error's nonce rule (NonceTooLow / NonceTooHigh). */
#ifdef MUTANT_NO_NONCE_CHECK
#define NONCE_OK(t) true
#else
#define NONCE_OK(t) (t.nonce == nonce[t.sender])
#endif

inline applied_op(i) {
  applied[i]++;
  nonce_used[pool[i].sender * MAXNONCE + pool[i].nonce]++
}

/* Execute pool entry i: ledger/rules.py:executable_error, Executor._charge, then the
   operation (confidential.py), whose writes are kept only if all its checks pass. */
inline execute(i) {
  s = pool[i].sender;
  if
  :: NONCE_OK(pool[i]) && pub[s] >= FEE ->
       pub[s] = pub[s] - FEE;
       burned = burned + FEE;
       nonce[s]++;
       if
       :: pool[i].kind == REGISTER ->
            if
            :: !registered[s] -> registered[s] = true; conf[s] = 0; applied_op(i)
            :: else -> skip
            fi
       :: pool[i].kind == DEPOSIT ->
            if
            :: registered[s] && pool[i].amount >= 1 && pub[s] >= pool[i].amount ->
                 pub[s] = pub[s] - pool[i].amount;
                 conf[s] = conf[s] + pool[i].amount;
                 version[s]++;
                 supply = supply + pool[i].amount;
                 applied_op(i)
            :: else -> skip
            fi
       :: pool[i].kind == TRANSFER ->
            r = pool[i].to;
            if
            :: (registered[s] && STALE_CHECK(pool[i]) && r != s && registered[r] &&
                pool[i].amount <= pool[i].seen) ->
                 conf[s] = conf[s] - pool[i].amount;
                 conf[r] = conf[r] + pool[i].amount;
                 version[s]++;
                 version[r]++;
                 applied_op(i)
            :: else -> skip
            fi
       :: pool[i].kind == WITHDRAW ->
            if
            :: (registered[s] && STALE_CHECK(pool[i]) && pool[i].amount >= 1 &&
                pool[i].amount <= pool[i].seen) ->
                 conf[s] = conf[s] - pool[i].amount;
                 pub[s] = pub[s] + pool[i].amount;
                 version[s]++;
                 supply = supply - pool[i].amount;
                 applied_op(i)
            :: else -> skip
            fi
       fi
  :: else -> skip   /* left out of the block: no fee, no nonce, no writes */
  fi
}

/* The pool is a multiset: the executor may pick any entry. Keeping it sorted (the new
   entry moved to its place, its applied count with it) makes pools that differ only in the
   order of their entries one state, which shrinks the search without losing a behaviour. */
#define KEY(t) ((((((t.sender * POOL + t.nonce) * 5 + t.kind) * N + t.to) * (MAXV + 1) \
                 + t.amount) * (POOL + 1) + t.ver) * (2 * MAXV * POOL + 1) + t.seen)
#define SWAP(f) tmp = pool[k].f; pool[k].f = pool[k - 1].f; pool[k - 1].f = tmp
#define SWAP_APPLIED tmp = applied[k]; applied[k] = applied[k - 1]; applied[k - 1] = tmp

inline sort_last() {
  k = npool - 1;
  do
  :: k > 0 && KEY(pool[k - 1]) > KEY(pool[k]) ->
       SWAP(kind); SWAP(sender); SWAP(nonce); SWAP(to); SWAP(amount); SWAP(ver);
       SWAP(seen); SWAP_APPLIED;
       k--
  :: else -> break
  od;
  k = 0; tmp = 0
}

/* Build a transaction for account u: any kind, receiver and amount, its next nonce or
   its last again, its proof made for the balance u reads now or read before. */
inline build(u) {
  if
  :: n = built[u]; built[u]++      /* its next nonce */
  :: built[u] > 0 -> n = built[u] - 1   /* or the last again: two transactions, one nonce */
  fi;
  pool[npool].sender = u;
  pool[npool].nonce = n;
  if
  :: pool[npool].kind = REGISTER
  :: pool[npool].kind = DEPOSIT; select(a : 1 .. MAXV); pool[npool].amount = a
  :: pool[npool].kind = TRANSFER; select(a : 0 .. MAXV); pool[npool].amount = a;
       select(r : 0 .. N - 1); pool[npool].to = r
  :: pool[npool].kind = WITHDRAW; select(a : 1 .. MAXV); pool[npool].amount = a
  fi;
  if
  :: view_ver[u] = version[u]; view_val[u] = conf[u]   /* reads its balance now */
  :: skip                                              /* uses what it read before */
  fi;
  pool[npool].ver = view_ver[u];
  pool[npool].seen = view_val[u];
  npool++;
  d_step { sort_last() }
}

init {
  byte s, r, n, a, i, u, k, tmp;
  short total, confsum;
  d_step {
    i = 0;
    do
    :: i < N -> pub[i] = PUB0; i++
    :: else -> break
    od;
    i = 0
  };
  do
  :: atomic { npool < POOL -> select(u : 0 .. N - 1); build(u); n = 0; a = 0; r = 0; u = 0 }
  :: atomic { npool > 0 -> select(i : 0 .. npool - 1);
              d_step { execute(i); check_invariants(); i = 0; s = 0; r = 0 } }
  od
}
