/*
 * cpuslab_pinned.pml: the CPUSlab fast path at the kernel's cost: the P is
 * pinned across the sequence and the (freelist, tid) pair is changed with
 * an unlocked CMPXCHG16B, which is atomic on its own CPU but not against
 * other CPUs. Remote changers exclude the owner with the per-P localLock.
 *
 * Mirrors alloc/cpuslab_pinned.go: cpuLock, cpuUnlock, cpuPop, cpuPush,
 * cpuLoad, pinnedCAS, cpuAllocOne, cpuAllocSlow, cpuAllocLocal, cpuInstall,
 * detachCPUSlab, cpuFreeOne, cpuSlabPercpu.flush; alloc/cpuslab.go:
 * detachCPU, flushCPULocked, getFreelist, deactivateSlab as the remote
 * flusher and the slab steps; alloc/locallock.go: localLock.tryLock,
 * unlock, lockRemote, unlockRemote.
 *
 * Machine: x86-TSO for P0's thread. Its plain stores (busy, the pair, free
 * pointers) go through a FIFO store buffer of BUF entries that process D
 * drains one at a time; its loads read its own newest buffered store first.
 * cc.slab is an atomic.Pointer: its Store is XCHG, which drains the buffer
 * and is at once visible. A LOCK-prefixed instruction on that thread (a
 * slab's CMPXCHG16B) first waits for the buffer to drain. So does a slab
 * step of a goroutine after it unpinned: on P0's thread the instruction
 * drains the buffer, and a goroutine that moved to another thread went
 * through the scheduler's atomics on P0's thread first. (That also orders
 * the step after stores that other goroutines made on P0 since, which it
 * cannot observe: it touches slab state and objects it holds, they touch
 * P0's lock, pair and cpu freelist.) The remote side uses Go atomics and
 * instructions that the exclusion makes exact, so it is sequentially
 * consistent. membarrier(2) is an asymmetric fence: the kernel runs a full
 * barrier on P0's CPU, which is the buffer draining at one instant between
 * two of its instructions.
 *
 * Processes: two G, goroutines (OPS operations each; pinned sections on P0
 * exclude each other; a free may also run on another P, which sends the
 * object to its slab); R, the remote locker (Shrink/Validate: lockRemote,
 * flushCPULocked, unlockRemote), FLUSHES times; D, the store buffer. As in
 * the code, a goroutine that finds its lock taken (cpuLock returns nil)
 * neither waits nor retries: the fast path goes on to the slow path, the
 * slow path's pinned step to the node, an install deactivates the new slab
 * keeping one object, a free goes to the slab (see RETRY). Once, a nested
 * no-lock call interrupts an owner between reading the pair and its CAS on
 * the same CPU (the kernel's NMI case; Go runs hooks unpinned, so this is
 * stronger than needed): it pops twice and pushes the first object back,
 * the ABA case. The interrupted CAS must fail.
 *
 * Slabs: S1 holds objects 1 and 2 and starts as P0's cpu slab with both on
 * the cpu freelist; S2 holds object 3 and starts on the node partial list.
 * Slab-level steps (__slab_free, get_freelist, freeze, deactivate_slab)
 * are single LOCK steps here: slabfree.pml checks them. The cpu partial
 * list is left out (it is under the per-P lock).
 *
 * Properties: mutual exclusion of owner and remote locker; no object handed
 * out twice; an interrupted CAS never succeeds and a CAS made with the lock
 * held otherwise never fails (the code panics); a cpu freelist is loaded
 * only over an empty one, and is never without a cpu slab; at the end every
 * object is exactly once on the cpu freelist or a slab freelist, and each
 * slab's inuse equals its objects minus its freelist.
 *
 * Bound: OPS operations per goroutine, FLUSHES flushes, a store buffer of
 * BUF entries, tids modulo 256. Witnesses (-DWITNESS=n): 1 a cpu slab
 * raced in and is deactivated (CPUSLAB_FLUSH), 2 a fast path finds its lock
 * taken, 3 the interrupted CAS fails, 4 get_freelist refills, 5 the install
 * finds the lock taken. Mutants (-D):
 *   NOLOCKREMOTE  the remote flusher changes the pair without the lock (in
 *                 one atomic step): the owner's unlocked CMPXCHG16B read the
 *                 pair before and its buffered store overwrites the flush.
 *   NOBARRIER     lockRemote without membarrier: store buffering lets owner
 *                 and remote locker in together.
 *   NOTID         the CAS does not advance the tid: the interrupted CAS
 *                 succeeds after the nested ABA.
 *   RETRY         cpuLock tries the lock again until it has it: an owner's
 *                 busy = 1, busy = 0 stores can keep the remote locker's
 *                 wait from ever seeing busy == 0 (a cycle without progress,
 *                 pan -l -f).
 */

#ifndef OPS
#define OPS 2
#endif
#ifndef FLUSHES
#define FLUSHES 1
#endif
#ifndef BUF
#define BUF 3
#endif
#ifndef HOOK
#define HOOK 1
#endif

#define NOBJ 3
#define NSLAB 2

#ifdef NOTID
#define STEP 0
#else
#define STEP 1
#endif

#define CHECK(c, msg) if :: (c) -> skip :: else -> printf(msg); assert(c) fi

#ifdef WITNESS
/* REACH(n) fails the run when WITNESS == n: a run that must fail shows the
 * bounded configuration reaches that branch. */
#define REACH(n) if :: WITNESS == n -> printf("witness: %d\n", n); assert(false) :: else -> skip fi;
#else
#define REACH(n)
#endif

/* Memory (what other CPUs see). */
byte next[NOBJ + 1];
byte cfl, tid;		/* P0's pair */
byte cslab;		/* P0's cpu slab: 0, 1 or 2 */
bit busy, remote;	/* P0's localLock */
byte sfl[NSLAB + 1], inuse[NSLAB + 1];
bit frozen[NSLAB + 1], listed[NSLAB + 1];

/* P0's store buffer: address, two values; oldest first. */
#define A_BUSY 1
#define A_PAIR 2
#define A_NEXT 3		/* A_NEXT + o is next[o] */
byte baddr[BUF], bv1[BUF], bv2[BUF];
byte blen;

bit pinned;		/* a goroutine is pinned on P0: no other runs there */

/* Ghosts. */
bit out[NOBJ + 1];
byte incs;		/* owners and remote lockers inside the lock */
byte hooks = HOOK;	/* nested interruptions left */
byte hookobj;		/* what the nested call still holds */
bit hookchanged;	/* the nested call changed the pair */

inline slab_of(o, sl) {
	sl = (o <= 2 -> 1 : 2)
}

/* P0's plain store. */
inline st(a, x, y) {
	atomic {
		blen < BUF -> baddr[blen] = a; bv1[blen] = x; bv2[blen] = y; blen++
	}
}

/* D commits the oldest store. */
inline commit0() {
	if
	:: baddr[0] == A_BUSY -> busy = bv1[0]
	:: baddr[0] == A_PAIR -> cfl = bv1[0]; tid = bv2[0]
	:: baddr[0] >= A_NEXT -> next[baddr[0] - A_NEXT] = bv1[0]
	fi;
	k = 1;
	do
	:: k < blen -> baddr[k - 1] = baddr[k]; bv1[k - 1] = bv1[k]; bv2[k - 1] = bv2[k]; k++
	:: else -> break
	od;
	blen--; baddr[blen] = 0; bv1[blen] = 0; bv2[blen] = 0; k = 0
}

/* P0's loads: the newest buffered store to the address, else memory. */
inline ld(a, x, y, memx, memy) {
	d_step {
		k = blen; x = memx; y = memy;
		do
		:: k > 0 && baddr[k - 1] == a -> x = bv1[k - 1]; y = bv2[k - 1]; break
		:: k > 0 && baddr[k - 1] != a -> k--
		:: else -> break
		od;
		k = 0
	}
}

inline ld_pair(f, t) { ld(A_PAIR, f, t, cfl, tid) }
/* cc.slab.Load (a plain MOV) and cc.slab.Store (XCHG: drains the buffer). */
inline ld_slab(s) { s = cslab }
inline st_slab(v) { atomic { blen == 0 -> cslab = v } }
inline ld_next(o, v) { ld(A_NEXT + o, v, k2, next[o], 0); k2 = 0 }

/* A LOCK instruction on P0's thread: the store buffer drains first. */
#define LOCKED (blen == 0)

/* localLock.tryLock: plain store of busy, plain load of remote. */
inline trylock(r) {
	st(A_BUSY, 1, 0);
	atomic {
		r = remote;
		if
		:: !r -> incs++; CHECK(incs == 1, "violated: owner and remote locker both hold the per-P lock\n")
		:: else -> skip
		fi
	};
	if
	:: r -> st(A_BUSY, 0, 0)
	:: else -> skip
	fi
}

inline unlock() {
	atomic { incs--; st(A_BUSY, 0, 0) }
}

/* The unlocked CMPXCHG16B: one instruction on P0, its store buffered. */
inline ucas(xf, xt, nf, nt, res) {
	atomic {
		ld_pair(cf, ct);
		if
		:: cf == xf && ct == xt -> st(A_PAIR, nf, nt); res = 1
		:: else -> res = 0
		fi;
		cf = 0; ct = 0
	}
}

inline handout(o) {
	d_step {
		CHECK(!out[o], "violated: object handed out twice\n");
		out[o] = 1
	}
}

/* Slab-level steps, each one LOCK CMPXCHG16B (slabfree.pml checks them). */
inline slab_free(a) {
	d_step {
		slab_of(a, sl);
		CHECK(inuse[sl] > 0, "violated: free to a slab with nothing in use\n");
		out[a] = 0;
		next[a] = sfl[sl]; sfl[sl] = a; inuse[sl]--;
		if
		:: !frozen[sl] && !listed[sl] -> listed[sl] = 1
		:: else -> skip
		fi;
		sl = 0
	}
}

inline get_freelist(s, fl) {
	d_step { fl = sfl[s]; sfl[s] = 0; inuse[s] = (s == 1 -> 2 : 1); frozen[s] = (fl != 0) }
}

/* get_partial_node + freeze_slab, any listed slab (either may be first on
 * the list). */
inline get_partial(s, fl) {
	atomic {
		if
		:: listed[1] && sfl[1] != 0 -> s = 1
		:: listed[2] && sfl[2] != 0 -> s = 2
		:: else -> s = 0
		fi;
		if
		:: s != 0 ->
			listed[s] = 0; frozen[s] = 1; fl = sfl[s]; sfl[s] = 0;
			inuse[s] = (s == 1 -> 2 : 1)
		:: else -> fl = 0
		fi
	}
}

/* deactivate_slab: splice a detached cpu freelist back, unfreeze. */
inline deactivate(s, fl) {
	d_step {
		o2 = fl; k = 0;
		do
		:: o2 != 0 && k <= NOBJ -> nx2 = next[o2]; next[o2] = sfl[s]; sfl[s] = o2; k++; o2 = nx2
		:: else -> break
		od;
		CHECK(k <= NOBJ, "violated: cycle in a detached cpu freelist\n");
		CHECK(inuse[s] >= k, "violated: deactivate frees more than inuse\n");
		inuse[s] = inuse[s] - k; frozen[s] = 0;
		if
		:: sfl[s] != 0 -> listed[s] = 1
		:: else -> skip
		fi;
		o2 = 0; nx2 = 0; k = 0
	}
}

inline pin() { atomic { !pinned -> pinned = 1 } }
inline unpin() { pinned = 0 }

/* A nested no-lock pop on P0 inside an owner's section. */
inline nested_pop(obj) {
	obj = 0;
	ld_pair(f2, t2);
	ld_slab(s2);
	if
	:: f2 != 0 && s2 != 0 ->
		ld_next(f2, nx2);
		atomic {
			ucas(f2, t2, nx2, t2 + STEP, ok2);
			if
			:: ok2 -> obj = f2; handout(obj)
			:: else -> skip
			fi
		}
	:: else -> skip
	fi;
	atomic { f2 = 0; t2 = 0; s2 = 0; nx2 = 0; ok2 = 0 }
}

/* Pop A, pop B, push A back: the pair holds A again, with B taken. */
inline nested_hook() {
	nested_pop(h1);
	if
	:: h1 != 0 ->
		hookchanged = 1;
		nested_pop(h2);
		out[h1] = 0;
		do
		:: ld_pair(f2, t2);
			st(A_NEXT + h1, f2, 0);
			ucas(f2, t2, h1, t2 + STEP, ok2);
			if
			:: ok2 -> break
			:: else -> skip
			fi
		od;
		hookobj = h2
	:: else -> skip
	fi;
	atomic { f2 = 0; t2 = 0; ok2 = 0; h1 = 0; h2 = 0 }
}

/*
 * cpuLock: pin and take the P's lock. Where a remote locker holds it, r is
 * set and the caller goes on without per-P data, still pinned until
 * cpuUnlock (RETRY: try again until the lock is had).
 */
inline cpu_lock(r) {
#ifndef RETRY
	pin(); trylock(r)
#else
	do
	:: pin(); trylock(r);
		if
		:: r -> unpin()
		:: else -> break
		fi
	od
#endif
}

inline cpu_unlock(r) {
	if
	:: !r -> unlock()
	:: else -> skip
	fi;
	unpin()
}

/* cpuPop, the owner holding the lock; at most one nested interruption. */
inline cpu_pop(obj) {
	obj = 0;
	do
	:: ld_pair(o, t);
		if
		:: o == 0 -> break
		:: else ->
			ld_slab(s);
			CHECK(s != 0, "violated: a cpu freelist without a cpu slab\n");
			ld_next(o, nx);
			if
			:: hooks > 0 -> hooks--; hooked = 1; nested_hook(); mine = (hookobj != 0)
			:: true -> skip
			fi;
			atomic {
				ucas(o, t, nx, t + STEP, ok);
				if
				:: ok -> handout(o)
				:: else -> skip
				fi;
				CHECK(!ok || !hooked || !hookchanged, "violated: an interrupted CAS succeeded\n");
				CHECK(ok || hooked, "violated: a pinned, locked CAS failed\n")
			};
			if
			:: hooked && hookchanged && !ok -> REACH(3) skip
			:: else -> skip
			fi;
			hooked = 0;
			if
			:: ok -> obj = o; break
			:: else -> skip	/* after the nested call: cpuPop retries */
			fi
		fi
	od;
	atomic { o = 0; t = 0; s = 0; nx = 0; ok = 0 }
}

/* cpuLoad: the chain after fl becomes the cpu freelist, sl the cpu slab. */
inline cpu_load(sl, fl) {
	ld_pair(o, t);
	CHECK(o == 0, "violated: a cpu freelist loaded over a non-empty one\n");
	ld_next(fl, nx);
	ucas(0, t, nx, t + STEP, ok);
	CHECK(ok, "violated: a pinned, locked CAS failed\n");
	ld_slab(s);
	if
	:: s != sl -> st_slab(sl)
	:: else -> skip
	fi;
	handout(fl);
	atomic { o = 0; t = 0; nx = 0; ok = 0; s = 0 }
}

/* cpuAllocOne: the fast path, then cpuAllocSlow's three steps. */
inline alloc(obj) {
	obj = 0;
	cpu_lock(r);
	if
	:: !r -> cpu_pop(obj)
	:: else -> REACH(2) skip
	fi;
	cpu_unlock(r);
	if
	:: obj == 0 ->
		/* 1. cpuAllocLocal, pinned: what the P has at hand. */
		cpu_lock(r);
		if
		:: !r ->
			cpu_pop(obj);
			ld_slab(s);
			if
			:: obj == 0 && s != 0 ->
				LOCKED -> get_freelist(s, f);
				if
				:: f != 0 -> REACH(4) cpu_load(s, f); obj = f
				:: else -> st_slab(0)	/* exhausted: full, on no list */
				fi
			:: else -> skip
			fi
		:: else -> skip
		fi;
		cpu_unlock(r);
		s = 0;
		if
		:: obj == 0 ->
			/* 2. Unpinned, no per-P lock: a slab from the node. */
			LOCKED -> get_partial(ns, f);
			if
			:: ns != 0 ->
				/* 3. cpuInstall, pinned on P0 again. */
				cpu_lock(r);
				if
				:: r ->
					cpu_unlock(r);
					REACH(5) handout(f); obj = f; nx = next[f];
					LOCKED -> deactivate(ns, nx)
				:: else ->
					ld_slab(s);
					if
					:: s != 0 ->
						/* detachCPUSlab: a cpu slab raced in */
						st_slab(0);
						ld_pair(o, t);
						ucas(o, t, 0, t + STEP, ok);
						CHECK(ok, "violated: a pinned, locked CAS failed\n");
						olds = s; oldfl = o;
						atomic { o = 0; t = 0; ok = 0 }
					:: else -> skip
					fi;
					cpu_load(ns, f); obj = f;
					cpu_unlock(r);
					if
					:: olds != 0 -> REACH(1) LOCKED -> deactivate(olds, oldfl)
					:: else -> skip
					fi
				fi
			:: else -> skip	/* a new slab is over the limit */
			fi
		:: else -> skip
		fi
	:: else -> skip
	fi;
	atomic { o = 0; t = 0; s = 0; nx = 0; f = 0; ns = 0; ok = 0; r = 0; olds = 0; oldfl = 0 }
}

/* cpuFreeOne: push onto the cpu freelist if a is of the cpu slab, else
 * (or without the per-P lock) free to the slab. */
inline free(a) {
	if
	:: LOCKED -> slab_free(a)	/* on another P */
	:: true ->
		cpu_lock(r);
		ld_slab(s);
		slab_of(a, sl);
		if
		:: !r && s == sl ->
			/* cpuPush */
			ld_pair(f, t);
			CHECK(f != a, "violated: double free on the cpu freelist\n");
			st(A_NEXT + a, f, 0);
			atomic {
				out[a] = 0;
				ucas(f, t, a, t + STEP, ok);
				CHECK(ok, "violated: a pinned, locked CAS failed\n")
			};
			cpu_unlock(r)
		:: else ->
			cpu_unlock(r);
			LOCKED -> slab_free(a)
		fi
	fi;
	atomic { f = 0; t = 0; s = 0; sl = 0; ok = 0; r = 0 }
}

proctype G() {
	byte o, t, s, nx, f, ns, sl, obj, a1, a2, n, olds, oldfl;
	byte f2, t2, s2, nx2, o2, h1, h2, k, k2, cf, ct;
	bit ok, ok2, r, hooked, mine;
	do
	:: n < OPS -> n++;
		if
		:: a1 == 0 -> alloc(obj); a1 = obj; obj = 0
		:: a1 != 0 && a2 == 0 -> alloc(obj); a2 = obj; obj = 0
		:: a1 != 0 -> free(a1); a1 = 0
		:: a2 != 0 -> free(a2); a2 = 0
		fi
	:: else -> break
	od;
	if
	:: a1 != 0 -> free(a1); a1 = 0
	:: else -> skip
	fi;
	if
	:: a2 != 0 -> free(a2); a2 = 0
	:: else -> skip
	fi;
	/* What the nested call kept: the goroutine it interrupted frees it. */
	if
	:: mine -> d_step { a1 = hookobj; hookobj = 0 }; free(a1); a1 = 0
	:: else -> skip
	fi
}

/* Shrink/Validate: lockRemote, flush P0's cpu slab, unlockRemote. */
proctype R() {
	byte s, fl, n, o2, nx2, k;
	do
	:: n < FLUSHES -> n++;
#ifndef NOLOCKREMOTE
		remote = 1;
#ifndef NOBARRIER
		atomic {
			do
			:: blen > 0 -> commit0()
			:: else -> break
			od
		};
#endif
		atomic { busy == 0 -> incs++; CHECK(incs == 1, "violated: owner and remote locker both hold the per-P lock\n") };
#endif
#ifndef NOLOCKREMOTE
		/* flushCPULocked: detachCPU clears the slab, then takes the pair
		 * (its CAS is exact under the exclusion), then deactivateSlab. */
		s = cslab;
		if
		:: s != 0 ->
			cslab = 0;
			d_step { fl = cfl; cfl = 0; tid = tid + STEP };
			deactivate(s, fl)
		:: else -> skip
		fi;
#else
		/* Without the lock, even a flush that clears the slab and takes
		 * the pair in one atomic step races the owner's unlocked CAS. */
		d_step {
			s = cslab;
			if
			:: s != 0 -> cslab = 0; fl = cfl; cfl = 0; tid = tid + STEP
			:: else -> skip
			fi
		};
		if
		:: s != 0 -> deactivate(s, fl)
		:: else -> skip
		fi;
#endif
#ifndef NOLOCKREMOTE
		atomic { incs--; remote = 0 };
#endif
		atomic { s = 0; fl = 0 }
	:: else -> break
	od
}

proctype D() {
	byte k;
end:	do
	:: atomic { blen > 0 -> commit0() }
	od
}

init {
	byte o, cnt[NOBJ + 1], ln, sl;
	d_step {
		next[1] = 2; next[2] = 0; next[3] = 0;
		cfl = 1; cslab = 1;
		frozen[1] = 1; inuse[1] = 2;
		sfl[2] = 3; listed[2] = 1
	}
	atomic {
		run D(); run G(); run G(); run R()
	}
	(_nr_pr == 2 && blen == 0);
	d_step {
		o = cfl; ln = 0;
		do
		:: o != 0 && ln <= NOBJ -> cnt[o]++; ln++; o = next[o]
		:: else -> break
		od;
		CHECK(cslab != 0 || cfl == 0, "violated: a cpu freelist without a cpu slab\n");
		sl = 1;
		do
		:: sl <= NSLAB ->
			o = sfl[sl]; ln = 0;
			do
			:: o != 0 && ln <= NOBJ -> cnt[o]++; ln++; o = next[o]
			:: else -> break
			od;
			CHECK(inuse[sl] == (sl == 1 -> 2 : 1) - ln, "violated: inuse != objects - len(slab freelist)\n");
			sl++
		:: else -> break
		od;
		o = 1;
		do
		:: o <= NOBJ ->
			CHECK(cnt[o] == 1, "violated: an object lost or on two lists\n");
			o++
		:: else -> break
		od
	}
}
