/*
 * locallock.pml: the Sheaves design's per-P lock, an asymmetric Dekker lock.
 *
 * Mirrors alloc/locallock.go: localLock.tryLock, localLock.unlock,
 * lockRemote, unlockRemote; alloc/locallock_tso.go and
 * alloc/locallock_atomic.go: ownerStore, ownerRelease;
 * alloc/membarrier_linux.go: asymmetricFence.
 *
 * NP Ps, each with an owner O(p) that tries ATT times to take its P's lock
 * while pinned (plain store busy = 1, plain load remote; on failure it
 * releases and takes its slow path; on success it changes the per-P data
 * with a plain load and store and releases with a plain store), and NR
 * remote lockers R that serialize on flushMu and lock every P: store
 * remote = 1 on each, one asymmetricFence, wait for each busy to be 0,
 * change every P's data, store remote = 0.
 *
 * Machine: x86-TSO for the owners: each P's thread has a FIFO store buffer
 * of BUF entries that D drains one entry at a time, and its loads read its
 * own newest buffered store first. Remote lockers use Go atomics (XCHG and
 * MOV on amd64: sequentially consistent). membarrier(2) makes the kernel run
 * a full barrier on every CPU that runs a thread of the process: in the
 * model every owner's buffer drains at one instant (the barrier on each CPU
 * comes between two of its instructions, and the fence returns only after
 * all of them).
 *
 * Variants: the default is amd64 with membarrier registered (plain owner
 * stores, remote fence). OWNERFENCE is membarrier missing (ownerFence): the
 * owner's store of busy = 1 is an atomic store (XCHG: the buffer drains and
 * the store is at once visible) and the remote fence does nothing; it also
 * stands for arm64 and the race build, whose STLR/LDAR pair is ordered.
 *
 * Properties: mutual exclusion on each P (owner and remote locker never
 * both inside); the per-P data changed inside equals the number of times
 * anyone was inside (no lost update: what the owner wrote before its release
 * is visible to the remote locker that saw busy == 0, and the other way
 * round); no deadlock (a remote locker's wait ends: pan's end states); the
 * owner never waits. Bound: NP Ps, NR remote lockers, ATT attempts per
 * owner, BUF buffer entries. Witnesses (-DWITNESS=n): 1 an owner finds
 * the lock taken, 2 a remote locker waits for an owner. Mutant (-D):
 *   NOBARRIER  lockRemote without the fence (store buffering): owner and
 *              remote locker are inside together.
 */

#ifndef NP
#define NP 2
#endif
#ifndef NR
#define NR 2
#endif
#ifndef ATT
#define ATT 2
#endif
#ifndef BUF
#define BUF 2
#endif

#define CHECK(c, msg) if :: (c) -> skip :: else -> printf(msg); assert(c) fi

#ifdef WITNESS
/* REACH(n) fails the run when WITNESS == n: a run that must fail shows the
 * bounded configuration reaches that branch. */
#define REACH(n) if :: WITNESS == n -> printf("witness: %d\n", n); assert(false) :: else -> skip fi;
#else
#define REACH(n)
#endif

#define A_BUSY 1
#define A_DATA 2

/* Memory. */
bit busy[NP], remote[NP];
byte data[NP];		/* the per-P data (sheaves, counters) */
bit flushmu;

/* Each P's store buffer, oldest first: address and value. */
typedef sbuf {
	byte addr[BUF];
	byte val[BUF];
	byte n
};
sbuf sb[NP];

/* Ghosts. */
byte incs[NP];		/* inside the lock of P */
byte entries[NP];	/* times anyone was inside */

hidden byte j;		/* scratch, inside one step */

inline commit0(p) {
	if
	:: sb[p].addr[0] == A_BUSY -> busy[p] = sb[p].val[0]
	:: sb[p].addr[0] == A_DATA -> data[p] = sb[p].val[0]
	fi;
	j = 1;
	do
	:: j < sb[p].n -> sb[p].addr[j - 1] = sb[p].addr[j]; sb[p].val[j - 1] = sb[p].val[j]; j++
	:: else -> break
	od;
	sb[p].n--; sb[p].addr[sb[p].n] = 0; sb[p].val[sb[p].n] = 0; j = 0
}

inline drain_all(p) {
	do
	:: sb[p].n > 0 -> commit0(p)
	:: else -> break
	od
}

/* The owner's plain store and load on P p. */
inline st(p, a, v) {
	atomic { sb[p].n < BUF -> sb[p].addr[sb[p].n] = a; sb[p].val[sb[p].n] = v; sb[p].n++ }
}

inline ld_data(p, v) {
	d_step {
		v = data[p]; j = sb[p].n;
		do
		:: j > 0 && sb[p].addr[j - 1] == A_DATA -> v = sb[p].val[j - 1]; break
		:: j > 0 && sb[p].addr[j - 1] != A_DATA -> j--
		:: else -> break
		od;
		j = 0
	}
}

/* ownerStore(&busy, 1) */
inline owner_store_busy(p) {
#ifdef OWNERFENCE
	atomic { sb[p].n == 0 -> busy[p] = 1 }
#else
	st(p, A_BUSY, 1)
#endif
}

proctype O(byte p) {
	byte n, v;
	bit r;
	do
	:: n < ATT -> n++;
		/* tryLock */
		owner_store_busy(p);
		atomic {
			r = remote[p];
			if
			:: !r -> incs[p]++; entries[p]++;
				CHECK(incs[p] == 1, "violated: owner and remote locker both hold a per-P lock\n")
			:: else -> skip
			fi
		};
		if
		:: r -> REACH(1) st(p, A_BUSY, 0)	/* fails: the slow path */
		:: else ->
			/* the pinned section: a plain read-modify-write of per-P data */
			ld_data(p, v);
			st(p, A_DATA, v + 1);
			/* unlock */
			atomic { incs[p]--; st(p, A_BUSY, 0) }
		fi;
		d_step { r = 0; v = 0 }
	:: else -> break
	od
}

proctype R() {
	byte p;
	atomic { !flushmu -> flushmu = 1 };
	/* lockRemote */
	p = 0;
	do
	:: p < NP -> remote[p] = 1; p++
	:: else -> break
	od;
#ifndef NOBARRIER
#ifndef OWNERFENCE
	/* asymmetricFence: membarrier(2) */
	atomic {
		p = 0;
		do
		:: p < NP -> drain_all(p); p++
		:: else -> break
		od;
		p = 0
	};
#endif
#endif
	p = 0;
	do
	:: p < NP ->
#ifdef WITNESS
		if
		:: busy[p] != 0 -> REACH(2) skip
		:: else -> skip
		fi;
#endif
		atomic {
			busy[p] == 0 -> incs[p]++; entries[p]++;
			CHECK(incs[p] == 1, "violated: owner and remote locker both hold a per-P lock\n")
		};
		p++
	:: else -> break
	od;
	/* change every P's data (a flush) */
	p = 0;
	do
	:: p < NP -> data[p]++; p++
	:: else -> break
	od;
	/* unlockRemote */
	p = 0;
	do
	:: p < NP -> atomic { incs[p]--; remote[p] = 0 }; p++
	:: else -> break
	od;
	flushmu = 0
}

proctype D() {
end:	do
	:: atomic { sb[0].n > 0 -> commit0(0) }
#if NP > 1
	:: atomic { sb[1].n > 0 -> commit0(1) }
#endif
	od
}

init {
	byte p;
	atomic {
		run D();	/* first: a process ends only after those it precedes */
		p = 0;
		do
		:: p < NP -> run O(p); p++
		:: else -> break
		od;
		p = 0;
		do
		:: p < NR -> run R(); p++
		:: else -> break
		od;
		p = 0
	}
	(_nr_pr == 2 && sb[0].n == 0 && sb[NP - 1].n == 0);
	d_step {
		p = 0;
		do
		:: p < NP ->
			CHECK(sb[p].n == 0, "violated: a store buffer left undrained\n");
			CHECK(data[p] == entries[p], "violated: a lost update of per-P data\n");
			CHECK(busy[p] == 0 && remote[p] == 0, "violated: a lock left held\n");
			p++
		:: else -> break
		od
	}
}
