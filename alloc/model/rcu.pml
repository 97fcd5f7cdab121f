/*
 * rcu.pml: the grace periods of an RCU domain and its callback queue
 * (kfree_rcu): no callback runs, and no Synchronize returns, while a reader
 * section that began before the callback was queued (Synchronize called)
 * is still inside, with readers that move between Ps inside their sections.
 *
 * Mirrors alloc/rcu.go: RCU.ReadLock, RCU.ReadUnlock, RCU.Synchronize,
 * RCU.snap, RCU.waitFor, RCU.lead, RCU.gpEnded, RCU.gracePeriod,
 * RCU.waitDrained, rcuArray.sums; alloc/rcu_count_norace.go: rcuCount;
 * alloc/membarrier_linux.go: asymmetricFence; alloc/rcu_callback.go:
 * RCU.queue (call), RCU.kick, RCU.run, RCU.take, RCU.invoke, RCU.Barrier,
 * RCU.Close.
 *
 * Ps 0 and 1, each with its slot of counters lock[0], lock[1], unlock[0],
 * unlock[1] (rcuPerP). Readers R(0) and R(1) (READERS of them) start on P 0
 * and P 1 and run SECS sections each: ReadLock (load idx, then count
 * lock[idx & 1] on the P: both pinned, so no move between them, but any
 * delay), load the published pointer gp, maybe move to the other P (the
 * first MOVERS readers), use what they loaded, ReadUnlock (count unlock[i]
 * of the token on the P they are on now). With NEST, R(0)'s section holds
 * a nested one that spans the move. With CB (the default), the updater U
 * unpublishes object 1 (gp = 0), queues its free (call) and, with BARRIER
 * (the default with CB), calls Barrier; the domain goroutine G (run) takes
 * batches, waits for a grace period that begins after the take (snap,
 * waitFor) and invokes each batch in order. S calls Synchronize SYNC times
 * (default 0), sharing grace periods with G: one of them leads, under
 * gpMu, the other waits for endGen to move. Once the readers, U and S have
 * ended and nothing can move (timeout), init checks that every queued
 * callback ran, then closes the domain (Close).
 *
 * Machine: x86-TSO for the readers, as with membarrier on amd64
 * (rcuPlainCounts): a count is a plain increment of the P's own slot, a
 * load that reads the thread's newest buffered store to it and a store into
 * the P's FIFO store buffer of BUF entries, which D drains one entry at a
 * time; the section's later loads (gp, the next idx) may pass it. A move to
 * the other P goes through the scheduler's atomics on the old P's thread,
 * which drain its buffer. Everything else is a Go atomic (idx, gp, seq, the
 * queue, the sums' loads: MOV and XCHG, sequentially consistent).
 * asymmetricFence (membarrier(2)) runs a full barrier on every CPU that
 * runs a thread of the process: every buffer drains at one instant. The
 * reader's use of gp is a load before its unlock store in program order,
 * which TSO keeps. ATOMICCOUNT: the counts are atomic adds (LOCK XADD: the
 * buffer drains, the store is at once visible) and the fence does nothing:
 * no membarrier (ownerFence), the race build, 32-bit platforms. In the
 * code a reader pinned on a P keeps the P's other goroutines off it; here a
 * count is one step, so two readers on one P interleave only in ways that
 * cannot change a count.
 *
 * Properties (assertions): a callback never runs while a reader that was
 * inside a section when the callback was queued is still inside it (ghost
 * masks of the readers inside, cleared when a reader's outermost section
 * ends); a reader never uses an object after its callback freed it (the
 * end-to-end property, which the first implies: NOGHOST checks it alone);
 * Synchronize never returns while a reader that was inside when it was
 * called is still inside; Barrier returns only after the callback queued
 * before it ran; a fenced check never counts more unlocks than locks
 * (correct use never stops the domain); once the others have ended and
 * nothing can move, every queued callback has run (no lost wake-up of G);
 * no invalid end state (no Synchronize, Barrier or waitFor caller waits
 * forever). Progress (pan -l -f): every poll loop of waitDrained, every
 * push retry and every batching delay ends once the readers have left (no
 * cycle without progress). A reader never waits: no statement of R depends
 * on the updater's state (only on its own store buffer's space).
 *
 * Bound: 2 Ps, READERS readers (2) of SECS sections (1), MOVERS of them
 * moving (1, once a section), one callback (object 1) and Barrier's head,
 * SYNC Synchronize calls, BUF store buffer entries per P (1); counters and
 * seq without wrap (doc.go argues the mod 2^64 wrap). Not modelled: the
 * per-P array's growth and its prev chain (sums over a chain are sums over
 * more slots), the overflow slot that Ps beyond the array share (atomic
 * adds, as with ATOMICCOUNT, but to one slot), rcuBatchLimit and
 * PendingObjects (a shortcut of the delay, which is any delay here), misuse
 * (unlocking a token twice, bad tokens), Close while callbacks are queued,
 * readers that never stop (so nothing checks that the flip lets a grace
 * period end under a stream of new readers), weaker machines than TSO
 * (arm64: the argument in doc.go).
 *
 * Witnesses (-DWITNESS=n): 1 a fenced check drains a reader's buffered
 * count, 2 a reader moves inside its section (it unlocks on another P than
 * it locked on), 3 a reader counts on the index idx had before a flip, 4 a
 * waitFor caller finds gpMu taken and waits, 5 a fenced check finds a
 * reader inside, 6 G takes a batch while S's grace period runs, 7 a push's
 * CAS fails, 8 Barrier's head and the callback are in one batch.
 *
 * Mutants (-D):
 *   NOBARRIER     waitDrained without asymmetricFence: a reader's lock
 *                 count, still in its store buffer, is not in L, and the
 *                 check passes while the reader is inside.
 *   NOFIRSTWAIT   gracePeriod skips the wait for the index that readers do
 *                 not use now: a reader that loaded idx before the previous
 *                 flip counts on that index late and is missed (CB=0 SYNC=2).
 *   NOSECONDWAIT  gracePeriod skips the wait after the flip: a reader inside
 *                 on the index of before the flip is not waited for.
 *   LOCKSFIRST    sums reads the locks before the unlocks (the fence between
 *                 them): a section that locks and unlocks in between is
 *                 counted as an unlock only. The fenced check finds L < U and
 *                 the domain stops; with MISUSEPOLL, where such a check polls
 *                 again instead (for the mutants only), U catches up with L
 *                 while a reader is inside (CB=0 SYNC=2 SECS=2).
 *   PERSLOT       sums reads each P's unlock and lock together, P after P
 *                 (what one net counter per P gives): a reader that locks on
 *                 P 0 after the read of P 0 and unlocks on P 1 before the
 *                 read of P 1 is counted as an unlock only; as LOCKSFIRST,
 *                 with and without MISUSEPOLL. It needs the move: with NOMOVE
 *                 it passes.
 *   SNAPSHARE     snap is (seq + 2) &^ 1: a grace period that was already
 *                 running when the batch was taken ends it (SYNC=1).
 *   NOUNLOCKWAKE  waitFor's leader releases gpMu without gpEnded: a waiter
 *                 that found gpMu taken after the leader's last grace period
 *                 ended sleeps forever (SYNC=1).
 *   NOREVERSE     take keeps the stack's newest-first order: Barrier's head
 *                 runs before the callback queued before it.
 *   PENDEARLY     invoke counts a callback done before running it: Barrier
 *                 finds none pending and returns first.
 *   NORECHECK     run sleeps without loading incoming again after storing
 *                 sleeping: a callback queued in between is never run
 *                 (BARRIER=0: Barrier's queue would wake it).
 * Passing variants: NOFLIP (gracePeriod without the flip: the flip is for
 * progress, not safety, as doc.go says), NOMOVE, NEST, ATOMICCOUNT.
 */

#ifndef SECS
#define SECS 1
#endif
#ifndef READERS
#define READERS 2
#endif
#ifndef CB
#define CB 1
#endif
#ifndef SYNC
#define SYNC 0
#endif
#ifndef BARRIER
#define BARRIER CB
#endif
#ifndef BUF
#define BUF 1
#endif
#ifndef MOVERS
#define MOVERS 1
#endif

#define CHECK(c, msg) if :: (c) -> skip :: else -> printf(msg); assert(c) fi

#ifdef WITNESS
/* REACH(n) fails the run when WITNESS == n: a run that must fail shows the
 * bounded configuration reaches that branch. */
#define REACH(n) if :: WITNESS == n -> printf("witness: %d\n", n); assert(false) :: else -> skip fi;
#else
#define REACH(n)
#endif

/* The domain (RCU): idx & 1, seq, gpMu, endGen. */
bit idx;
byte seq;
bit gpmu;
byte endgen;

/* The per-P slots: P p's lock[i] is cnt[4p + i], its unlock[i] cnt[4p + 2 + i]. */
byte cnt[8];
#define LK(p, i) cnt[4 * (p) + (i)]
#define UL(p, i) cnt[4 * (p) + 2 + (i)]

/* Each P's store buffer, oldest first: counter index + 1, value. */
typedef sbuf {
	byte addr[BUF];
	byte val[BUF];
	byte n
};
sbuf sb[2];

/* The callback queue (rcuCallbacks): heads 1 (object 1's free) and BH. */
#define BH 2
byte incoming;
byte hnext[3];
byte pending;		/* pendingCallbacks */
bit sleeping, closed, wake;

/* The published pointer and the object. */
byte gp = 1;
bit freed[2];
bit bdone;		/* Barrier's done channel closed */

/* Ghosts. */
byte depth[2];		/* reader r's nesting depth */
byte pre;		/* readers inside when callback 1 was queued, still inside */
byte spre;		/* readers inside when S called Synchronize, still inside */

hidden byte j, v;	/* scratch, inside one step */

#define INSIDE ((depth[0] > 0 -> 1 : 0) | (depth[1] > 0 -> 2 : 0))

inline commit0(p) {
	cnt[sb[p].addr[0] - 1] = sb[p].val[0];
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

/* asymmetricFence */
inline fence() {
#if !defined(NOBARRIER) && !defined(ATOMICCOUNT)
	atomic {
		if
		:: sb[0].n + sb[1].n > 0 -> REACH(1) skip
		:: else -> skip
		fi;
		drain_all(0); drain_all(1)
	}
#else
	skip
#endif
}

/* rcuCount(&slot.lock[i] or .unlock[i]) on P p: counter index k. Part of
 * one atomic step (the caller's). */
inline count(p, k) {
#ifdef ATOMICCOUNT
	drain_all(p);
	cnt[k]++
#else
	v = cnt[k]; j = sb[p].n;
	do
	:: j > 0 && sb[p].addr[j - 1] == k + 1 -> v = sb[p].val[j - 1]; break
	:: j > 0 && sb[p].addr[j - 1] != k + 1 -> j--
	:: else -> break
	od;
	sb[p].addr[sb[p].n] = k + 1; sb[p].val[sb[p].n] = v + 1; sb[p].n++;
	j = 0; v = 0
#endif
}

/* ReadLock on P p: the token's index in i. The outermost section's first
 * load, of the published pointer into o, is in the same step: it comes
 * after the count in program order, TSO lets it pass the buffered count,
 * and a later load could only find gp == 0. */
inline read_lock(p, i, outer) {
	i = idx;
	atomic {
		sb[p].n < BUF ->
		if
		:: i != idx -> REACH(3) skip
		:: else -> skip
		fi;
		count(p, 4 * p + i);
		depth[r]++;
		if
		:: outer -> o = gp
		:: else -> skip
		fi
	}
}

/* ReadUnlock of token i on P p. The outermost section's use of what it
 * loaded is in the same step: it is a load before the count in program
 * order, and freed only goes from 0 to 1. */
inline read_unlock(p, i, outer) {
	atomic {
		sb[p].n < BUF ->
		if
		:: outer -> CHECK(o == 0 || !freed[o], "violated: a reader used an object after its callback freed it\n"); o = 0
		:: else -> skip
		fi;
		count(p, 4 * p + 2 + i);
		depth[r]--;
		if
		:: depth[r] == 0 -> pre = pre & ~(1 << r); spre = spre & ~(1 << r)
		:: else -> skip
		fi;
		i = 0
	}
}

/* The goroutine moves to the other P, through the scheduler. */
inline move(p) {
#ifndef NOMOVE
	if
	:: skip
	:: r < MOVERS -> atomic { drain_all(p); p = 1 - p; REACH(2) skip }
	fi
#else
	skip
#endif
}

proctype R(byte r) {
	byte p = r, o, n;
	bit i, i2;
	do
	:: n < SECS -> n++;
		read_lock(p, i, 1);
#ifdef NEST
		if
		:: r == 0 -> read_lock(p, i2, 0)
		:: else -> skip
		fi;
#endif
		move(p);
#ifdef NEST
		if
		:: r == 0 -> read_unlock(p, i2, 0)
		:: else -> skip
		fi;
#endif
		read_unlock(p, i, 1)
	:: else -> break
	od
}

/* rcuArray.sums(i, fenced) into l and u. */
inline sums(i, fenced) {
#if defined(LOCKSFIRST)
	l = LK(0, i); l = l + LK(1, i);
	if :: fenced -> fence() :: else -> skip fi;
	u = UL(0, i); u = u + UL(1, i)
#elif defined(PERSLOT)
	if :: fenced -> fence() :: else -> skip fi;
	u = UL(0, i); l = LK(0, i);
	u = u + UL(1, i); l = l + LK(1, i)
#else
	u = UL(0, i); u = u + UL(1, i);
	if :: fenced -> fence() :: else -> skip fi;
	l = LK(0, i); l = l + LK(1, i)
#endif
}

/* waitDrained(a, i): poll until no reader is inside on index i. */
inline wait_drained(i) {
	do
	:: sums(i, 0);
		if
		:: l <= u ->
			sums(i, 1);
			if
			:: l == u -> d_step { l = 0; u = 0 }; break
#ifndef MISUSEPOLL
			:: l < u -> CHECK(false, "violated: a grace period counted more unlocks than locks\n")
#endif
			:: else -> REACH(5) d_step { l = 0; u = 0 }
			fi
		:: else -> d_step { l = 0; u = 0 }
		fi
	od
}

/* gracePeriod; the caller holds gpMu. */
inline grace_period() {
	atomic { seq++; cur = idx };	/* idx changes only under gpMu */
#ifndef NOFIRSTWAIT
	wait_drained(1 - cur);
#endif
#ifndef NOFLIP
	idx = 1 - cur;
#endif
#ifndef NOSECONDWAIT
	wait_drained(cur);
#endif
	seq++
}

/* waitFor(s): lead grace periods under gpMu, or wait for an end of one. */
inline wait_for(s) {
	do
	:: gen = endgen;	/* under endMu, before the check */
		if
		:: seq >= s -> break
		:: else -> skip
		fi;
		atomic {
			if
			:: gpmu == 0 -> gpmu = 1; got = 1
			:: else -> got = 0
			fi
		};
		if
		:: got ->
			/* lead */
			do
			:: seq >= s -> break
			:: else -> grace_period();
				atomic { endgen++; cur = 0 }	/* gpEnded */
			od;
			gpmu = 0;
#ifndef NOUNLOCKWAKE
			endgen++;	/* gpEnded: waiters that found gpMu taken try again */
#endif
			got = 0;
			break
		:: else -> REACH(4)
			endgen != gen	/* endCond.Wait */
		fi
	od;
	gen = 0
}

/* queue(h, ...): head h, Barrier's own when h == BH. */
inline queue(h) {
	if
	:: h != BH -> pending++
	:: else -> skip
	fi;
	do
	:: atomic { old = incoming; hnext[h] = old };	/* h is G's only after the CAS */
		atomic {
			if
			:: incoming == old -> incoming = h; ok = 1;
				if
				:: h != BH -> pre = INSIDE
				:: else -> skip
				fi
			:: else -> ok = 0
			fi
		};
		if
		:: ok -> break
		:: else -> REACH(7) skip
		fi
	od;
	/* the rcuBatchLimit kick is a timing shortcut; not modelled */
	if
	:: sleeping ->
		atomic {
			if
			:: sleeping -> sleeping = 0; ok = 1
			:: else -> ok = 0
			fi
		};
		if
		:: ok -> wake = 1	/* kick */
		:: else -> skip
		fi
	:: else -> skip
	fi;
	d_step { old = 0; ok = 0 }
}

proctype U() {
	byte old;
	bit ok;
	gp = 0;
	queue(1);
#if BARRIER
	/* Barrier */
	if
	:: pending == 0 -> skip
	:: else ->
		queue(BH);
		bdone
	fi;
	CHECK(freed[1], "violated: Barrier returned before a callback queued before it ran\n")
#endif
}

/* invoke one head of a batch */
inline invoke1(h) {
	if
	:: h == 1 ->
#ifdef PENDEARLY
		pending--;
#endif
		d_step {
#ifndef NOGHOST
			CHECK(pre == 0, "violated: a callback ran while a reader that began before it was queued was still inside\n");
#endif
			freed[1] = 1
		};
#ifndef PENDEARLY
		pending--
#endif
	:: h == BH -> bdone = 1
	:: else -> skip
	fi
}

/* run */
proctype G() {
	byte h, b0, b1, s, gen, cur, l, u;
	bit got;
	do
	:: if
		:: incoming == 0 ->
			if
			:: closed -> break
			:: else -> skip
			fi;
			sleeping = 1;
#ifndef NORECHECK
			if
			:: incoming == 0 && !closed ->
end1:				atomic { wake -> wake = 0 }
			:: else -> skip
			fi;
#else
end2:			atomic { wake -> wake = 0 };
#endif
			sleeping = 0
		:: else ->
			/* the batching delay, which a kick cuts short */
			if
			:: atomic { wake -> wake = 0 }
			:: true ->
				/* take */
				atomic { h = incoming; incoming = 0 };
				d_step {
					b0 = h; b1 = hnext[h];	/* newest first */
#ifndef NOREVERSE
					if
					:: b1 != 0 -> h = b0; b0 = b1; b1 = h
					:: else -> skip
					fi;
#endif
					h = 0;
					hnext[b0] = 0; hnext[b1] = 0
				};
				if
				:: b1 != 0 -> REACH(8) skip
				:: else -> skip
				fi;
				atomic {
					if
					:: seq % 2 == 1 -> REACH(6) skip
					:: else -> skip
					fi;
#ifdef SNAPSHARE
					s = (seq + 2) / 2 * 2
#else
					s = (seq + 3) / 2 * 2	/* snap */
#endif
				};
				wait_for(s);
				s = 0;
				invoke1(b0);
				invoke1(b1);
				d_step { b0 = 0; b1 = 0 }
			fi
		fi
	od
}

/* Synchronize, SYNC times */
proctype S() {
	byte n, s, gen, cur, l, u;
	bit got;
	do
	:: n < SYNC -> n++;
		atomic { s = (seq + 3) / 2 * 2; spre = INSIDE };
		wait_for(s);
		CHECK(spre == 0, "violated: Synchronize returned while a reader that began before it was called was still inside\n");
		s = 0
	:: else -> break
	od
}

proctype D() {
end:	do
	:: atomic { sb[0].n > 0 -> commit0(0) }
	:: atomic { sb[1].n > 0 -> commit0(1) }
	od
}

init {
	atomic {
		/* D and G first: a process ends only after those it precedes */
		run D();
#if CB
		run G();
#endif
		run R(0);
#if READERS > 1
		run R(1);
#endif
#if CB
		run U();
#endif
#if SYNC > 0
		run S()
#endif
	}
#if CB
	/* The readers, U and S end (else an invalid end state: a Synchronize
	 * or Barrier caller waits forever); then nothing can move (timeout):
	 * G sleeps, every store buffer has drained. */
	(_nr_pr == 3);
	timeout;
	CHECK(incoming == 0 && freed[1] && pending == 0, "violated: a queued callback never ran\n");
	/* Close */
	closed = 1;
	wake = 1;
#endif
	(_nr_pr == 2 && sb[0].n == 0 && sb[1].n == 0);
	d_step {
		CHECK(LK(0, 0) + LK(1, 0) == UL(0, 0) + UL(1, 0) && LK(0, 1) + LK(1, 1) == UL(0, 1) + UL(1, 1),
			"violated: the counts differ after every reader left\n")
	}
}
