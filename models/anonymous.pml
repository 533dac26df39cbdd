/*
 * Anonymous notes (transaction kind ANONYMOUS) as a Promela model, checked exhaustively by
 * SPIN for conservation of value and no double spend (tests/models/test_spin.py;
 * docs/privacy.md, "Model checking").
 *
 * What is modelled. N accounts with public balances, all with a registered anonymous
 * address; a growing set of notes (owner, value), the set of spent key images and
 * anon/supply. One process plays every party: at each step some account builds a
 * transaction from anything it likes (a shield of any amount to any receiver; a transfer
 * naming any notes, spent or not, its own or not, existing or not, as its inputs and ring
 * decoys, any outputs and any public amount out) and the chain executes it, atomically.
 * Building a transaction earlier and executing it later adds no behaviour: whether a
 * transaction is valid depends on the state only through the note set and the key-image
 * set, which only grow, and the public balances, so a transaction built earlier is one
 * that could be built at the moment it executes. A replay is the same transaction built
 * again: same notes, same key images.
 *
 * Mapping of each rule to the Python (src/xinlian/...):
 *   SHIELD     execution/anonymous.py:_statement (Shield: one output, public_in > 0, the
 *              receiver registered) and Anonymous.execute (sender's public balance covers
 *              public_in; public -> a new note; anon/supply += public_in).
 *   TRANSFER   execution/anonymous.py:_statement (1 to MAX_INPUTS spends, one ring per
 *              spend, public_in 0) and _ring (2 to MAX_RING distinct notes, each an
 *              existing note: UnknownNote otherwise); crypto/privacy/anonymous/transfer.py:
 *              _check_shape (no two spends with one key image) and verify_transfer (each
 *              spend's one-of-n proof, the balance proof, the range proof);
 *              Anonymous.execute (no key image spent already: KeyImageSpent; writes the key
 *              images, the outputs as new notes, anon/supply -= fee + public_out, the
 *              public amount to `to`). The fee, paid from the notes to the submitter, is one
 *              more public amount out and is modelled as part of public_out.
 *
 * Abstraction (what the model leaves out):
 * - Cryptography is assumed sound. A note's key image I = x*H_ctx is a function of its
 *   one-time key P = x*G (H_ctx is fixed per chain: anonymous.py:chain_context), and one-
 *   time keys are unique (anon/otk, NoteExists), so the model names a note's key image by
 *   the note's index.
 * - A proof is the predicate it proves: the transaction carries its witnesses (the real
 *   note of each ring, its spender), and the verifier accepts exactly when the relation
 *   holds: the real note is in the ring, its spender owns it (knows x: the one-of-n proof's
 *   soundness and linkability, Liu-Wei-Wong / CLSAG style), the key image is the real
 *   note's, the pseudo commitment carries the real note's value (Pedersen binding under
 *   DL), inputs = outputs + public out (the balance proof) and every output lies in
 *   [0, 2^32) (the range proof). A party may claim anything; only true statements verify.
 * - Which ring member is real is hidden by the proof; hiding is not a safety property
 *   and is not modelled (docs/privacy.md states the anonymity games).
 * - Scope: 4 notes a run, 2 accounts with amounts up to 2 (3 accounts with amounts up to
 *   1 in the test's second search), 2 of public value each; a transfer spends one or two
 *   notes into one or two, each ring of two. Registration of addresses, the
 *   regulator's escrows and openings (which move no value), the transaction fee burned
 *   from the submitter's public balance and nonces (modelled in confidential.pml) are
 *   left out.
 *
 * Invariants, asserted after every step:
 *   sum(public) + anon/supply == N * PUB0                   (value is conserved)
 *   anon/supply == the sum of the values of unspent notes
 *   every note spent at most once; every note a transfer spends is in the set
 *   every balance and note value >= 0
 *
 * Mutants: -DMUTANT_NO_KEY_IMAGE_CHECK drops Anonymous.execute's KeyImageSpent check;
 * -DMUTANT_SAME_IMAGE_TWICE drops _check_shape's "two spends of one note";
 * -DMUTANT_NO_NOTE_CHECK drops _ring's UnknownNote (a ring member outside the set).
 */

#ifndef N
#define N 2          /* accounts */
#endif
#ifndef PUB0
#define PUB0 2       /* each account's public balance at genesis */
#endif
#ifndef MAXV
#define MAXV 2       /* largest amount a shield, output or public amount out names */
#endif
#ifndef MAXNOTES
#define MAXNOTES 4   /* notes made in one run */
#endif
#define NONE 255

short pub[N];
byte owner[MAXNOTES];
short value[MAXNOTES];
bool spent[MAXNOTES];      /* the key-image set: anon/ki/<image> */
byte count;                /* anon/notes */
short supply;              /* anon/supply */
byte spends[MAXNOTES];     /* ghost: applied spends of each note */

/* A transfer under construction: two spends at most (in2 == NONE: one), each with one
   decoy (a ring of two), and one or two outputs. */
byte in1, in2, decoy1, decoy2, spender;
byte to1, to2;
short out1, out2;
short pubout;
byte pubto;
byte k;
short total, notes;

#ifdef MUTANT_NO_KEY_IMAGE_CHECK
#define IMAGE_UNSPENT(real) true
#else
#define IMAGE_UNSPENT(real) (!spent[real])
#endif
#ifdef MUTANT_SAME_IMAGE_TWICE
#define IMAGES_DISTINCT true
#else
#define IMAGES_DISTINCT (in2 != in1)
#endif

/* _ring: two distinct members, both notes of the set; the one-of-n proof: the real note
   is a member (by construction) and its spender owns it. */
#ifdef MUTANT_NO_NOTE_CHECK
#define IN_SET(i) true
#else
#define IN_SET(i) (i < count)
#endif
#define RING_OK(real, decoy) (IN_SET(real) && IN_SET(decoy) && decoy != real)
#define OWNS(real) (owner[real] == spender)
#define VALUE_IN (value[in1] + (in2 == NONE -> 0 : value[in2]))

inline check_invariants() {
  total = 0;
  k = 0;
  do
  :: k < N -> assert(pub[k] >= 0); total = total + pub[k]; k++
  :: else -> break
  od;
  assert(total + supply == N * PUB0);
  notes = 0;
  k = 0;
  do
  :: k < count ->
       assert(value[k] >= 0 && spends[k] <= 1);
       if
       :: !spent[k] -> notes = notes + value[k]
       :: else -> skip
       fi;
       k++
  :: else -> break
  od;
  assert(supply == notes);
  total = 0; notes = 0; k = 0
}

inline new_note(who, amount) {
  owner[count] = who;
  value[count] = amount;
  count++
}

inline shield() {
  select(spender : 0 .. N - 1);
  select(out1 : 1 .. MAXV);
  select(to1 : 0 .. N - 1);
  skip;   /* a select's loop may not end inside a d_step */
  d_step {
    if
    :: pub[spender] >= out1 ->
         pub[spender] = pub[spender] - out1;
         new_note(to1, out1);
         supply = supply + out1;
         check_invariants()
    :: else -> skip   /* InsufficientBalance */
    fi
  }
}

/* Each choice is followed by the rule it must pass; a transaction that fails one is
   refused and changes nothing, so the rest of its choices need not be enumerated. */
#define REQUIRE(c) if :: (c) -> skip :: else -> goto refused fi

inline transfer() {
  select(spender : 0 .. N - 1);
  select(in1 : 0 .. MAXNOTES - 1);
  pick_decoy(in1, decoy1);
  REQUIRE(RING_OK(in1, decoy1) && OWNS(in1) && IMAGE_UNSPENT(in1));
  if
  :: in2 = NONE
  :: select(in2 : 0 .. MAXNOTES - 1);
     pick_decoy(in2, decoy2);
     REQUIRE(RING_OK(in2, decoy2) && OWNS(in2) && IMAGE_UNSPENT(in2) && IMAGES_DISTINCT)
  fi;
  select(to1 : 0 .. N - 1);
  select(out1 : 0 .. MAXV);
  if
  :: to2 = NONE
  :: select(to2 : 0 .. N - 1); select(out2 : 0 .. MAXV)
  fi;
  REQUIRE(count + (to2 == NONE -> 1 : 2) <= MAXNOTES);
  /* the balance proof: inputs = outputs + public out, the public amount out >= 0 */
  pubout = VALUE_IN - out1 - (to2 == NONE -> 0 : out2);
  REQUIRE(pubout >= 0 && pubout <= MAXV);
  select(pubto : 0 .. N - 1);
  skip;
  d_step {
    /* nothing is credited from a note outside the set */
    assert(in1 < count && (in2 == NONE || in2 < count));
    spent[in1] = true; spends[in1]++;
    if
    :: in2 != NONE -> spent[in2] = true; spends[in2]++
    :: else -> skip
    fi;
    new_note(to1, out1);
    if
    :: to2 != NONE -> new_note(to2, out2)
    :: else -> skip
    fi;
    pub[pubto] = pub[pubto] + pubout;
    supply = supply - pubout;
    check_invariants()
  };
refused:
  skip
}

/* A ring's other member: which note it is changes nothing (a decoy moves no value), so
   the model names either some other note of the set or one not in the set (UnknownNote). */
inline pick_decoy(real, decoy) {
  if
  :: decoy = (real == 0 -> 1 : 0)
  :: decoy = count
  fi
}

init {
  d_step {
    k = 0;
    do
    :: k < N -> pub[k] = PUB0; k++
    :: else -> break
    od;
    k = 0
  };
  do
  :: atomic { count < MAXNOTES -> shield();
              spender = 0; out1 = 0; to1 = 0 }
  :: atomic { count > 0 -> transfer();
              spender = 0; in1 = 0; in2 = 0; decoy1 = 0; decoy2 = 0; to1 = 0; to2 = 0;
              out1 = 0; out2 = 0; pubout = 0; pubto = 0 }
  od
}
