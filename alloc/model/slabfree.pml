/*
 * slabfree.pml: a slab's (freelist, counters) pair, changed by __slab_free
 * with the speculative list_lock, racing the whole-freelist takes of the
 * allocation paths and deactivate_slab.
 *
 * Mirrors alloc/slab_free.go: slabFree (__slab_free), takeFreelist;
 * alloc/refill.go: refillObjects, allocFromSlabs; alloc/cpuslab.go:
 * deactivateSlab, putCPUPartial (lockedPutCPUPartial, pinnedPutCPUPartial),
 * putPartials, freezeSlab, getPartialNode; alloc/slab.go: cmpxchg
 * (slab_update_freelist) and the counters word.
 *
 * One slab S of NOBJ = 3 objects on a node whose partial list also holds
 * OTHERS other slabs (0 or 1, chosen at the start unless -DOTHERS fixes
 * it), with min_partial 1, so that an emptied slab is freed in some runs and
 * kept in others. Designs:
 *   default   Sheaves: S is partial with object 3 free; F(1) and F(2) hold
 *             objects 1 and 2 and free them; A takes from the node, by
 *             refillObjects (max 1 or 2, detaching whole freelists and giving
 *             back what it cannot use) or by allocFromSlabs, and frees what
 *             it got.
 *   CPUSLAB   the old design: S is a frozen cpu slab whose cpu freelist
 *             (object 3, or nothing while F(3) holds 3) A holds; A
 *             deactivates it. A free that finds S full puts it on the
 *             cpu partial list (put_cpu_partial), even when it empties
 *             it, or, as CPUSlab does while a remote locker holds the P,
 *             on the node partial list; C then
 *             drains that list to the node (__put_partials) or takes S back
 *             as a cpu slab (freeze, hand out one object, deactivate), or C
 *             takes S from the node partial list (get_partial_node).
 *   NODCAS    (with either) no double-word CAS: every pair change is a
 *             compare and two stores under list_lock, as on hardware without
 *             one; the stores are separate steps, so a writer without the
 *             lock loses updates.
 * The pair is read in one step: the code loads freelist then counters, and
 * every update advances the counters' generation, so a change between the
 * two loads fails the CAS. The free pointer of a free's tail is written
 * before its CAS and is private until then.
 *
 * Properties: no object handed out twice; after every successful update,
 * inuse == NOBJ - len(freelist) and the freelist has no cycle; a slab is on
 * at most one list (node partial, cpu partial) and never on one while
 * frozen or freed; a freed slab is empty and never touched again; at the
 * end, S is on the partial list iff it has free objects and is neither
 * frozen, nor on a cpu partial list, nor freed, and every object is on S's
 * freelist. No cycles (pan -l): every retry loop ends when the others stop.
 *
 * Bound: three objects, one slab plus OTHERS, each process's operations as
 * above, generations modulo 256. Witnesses (-DWITNESS=n): 1 a free lists a
 * full slab, 2 a free empties and frees the slab, 3 a free's CAS fails and
 * it decides again, 4 a refill gives back what it cannot use, 5 a free puts
 * a full slab on the cpu partial list, 6 a cpu partial or node partial
 * slab is frozen again, 7 deactivate_slab frees an empty slab. Mutants (-D):
 *   STALELOCK  the free decides whether to take list_lock once, before its
 *              retry loop: a refill that empties the freelist meanwhile makes
 *              the slab full, and the free then puts an object on it without
 *              the lock and without listing it: the slab is lost to the node.
 *   NOLOCKPAIR (with NODCAS and CPUSLAB) deactivate_slab changes the pair
 *              without list_lock, racing a free that holds it.
 */

#define NOBJ 3
#define MINPARTIAL 1

#ifdef NODCAS
#define LOCKLESS 0
#else
#define LOCKLESS 1
#endif
#ifdef CPUSLAB
#define CPUPARTIAL 1
#else
#define CPUPARTIAL 0
#endif

#define CHECK(c, msg) if :: (c) -> skip :: else -> printf(msg); assert(c) fi

#ifdef WITNESS
/* REACH(n) fails the run when WITNESS == n: a run that must fail shows the
 * bounded configuration reaches that branch. */
#define REACH(n) if :: WITNESS == n -> printf("witness: %d\n", n); assert(false) :: else -> skip fi;
#else
#define REACH(n)
#endif

byte next[NOBJ + 1];
bit out[NOBJ + 1];	/* ghost: handed out (or held as a detached freelist) */

/* S's pair: freelist and counters {inuse, frozen, generation}. */
byte sfl, inuse, gen;
bit frozen;

/* Under list_lock. */
byte listlock;		/* 0 free, else the holder's _pid + 1 */
bit onpartial;
byte others;		/* other slabs on the partial list */
bit freed;		/* S was given back to the page heap */

/* Under the per-P lock (cc.mu) of the old design. */
bit oncpupartial;

#define NRPARTIAL (others + onpartial)

inline lock() { atomic { listlock == 0 -> listlock = _pid + 1 } }
inline unlock() {
	d_step {
		CHECK(listlock == _pid + 1, "violated: list_lock released by a non-holder\n");
		listlock = 0
	}
}

/* Counting the freelist after an update. */
hidden byte q, qk;	/* scratch of check_pair, inside one step */

inline check_pair() {
	q = sfl; qk = 0;
	do
	:: q != 0 && qk <= NOBJ -> qk++; q = next[q]
	:: else -> break
	od;
	CHECK(qk <= NOBJ, "violated: a cycle in the slab freelist\n");
	CHECK(inuse == NOBJ - qk, "violated: inuse != objects - len(freelist)\n");
	q = 0; qk = 0
}

inline read_pair() {
	d_step {
		CHECK(!freed, "violated: a freed slab is used\n");
		ofl = sfl; oin = inuse; ofr = frozen; ogen = gen
	}
}

/*
 * cmpxchg (slab_update_freelist). With the double-word CAS one step; without
 * it, a compare and two stores that only list_lock makes atomic.
 */
inline cmpxchg(nfl, nin, nfr, res) {
#if LOCKLESS
	d_step {
		if
		:: sfl == ofl && inuse == oin && frozen == ofr && gen == ogen ->
			sfl = nfl; inuse = nin; frozen = nfr; gen++; res = 1;
			check_pair()
		:: else -> res = 0
		fi
	}
#else
	if
	:: sfl == ofl && inuse == oin && frozen == ofr && gen == ogen ->
		sfl = nfl;
		d_step { inuse = nin; frozen = nfr; gen++ };
		res = 1;
		d_step {
#ifndef NOLOCKPAIR
			CHECK(listlock == _pid + 1, "violated: a pair changed without list_lock\n");
#endif
			check_pair()
		}
	:: else -> res = 0
	fi
#endif
}

inline add_partial() {
	d_step {
		CHECK(!onpartial && !oncpupartial && !frozen && !freed, "violated: a slab on two lists, or frozen or freed on one\n");
		onpartial = 1
	}
}

inline remove_partial() {
	d_step { CHECK(onpartial, "violated: removing a slab that is not on the partial list\n"); onpartial = 0 }
}

inline free_slab() {
	d_step {
		CHECK(inuse == 0 && !onpartial && !oncpupartial, "violated: freeing a slab in use or on a list\n");
		freed = 1
	}
}

/* putCPUPartial: the slab goes on this P's cpu partial list; in CPUSlab,
 * while a remote locker holds the P, on the node partial list instead
 * (pinnedPutCPUPartial). */
inline put_cpu_partial() {
	if
	:: d_step {
			CHECK(!onpartial && !oncpupartial && !freed, "violated: a slab on two lists, or freed on one\n");
			oncpupartial = 1
		}
	:: lock(); add_partial(); unlock()
	fi
}

/* slabFree (__slab_free): give back the chain head..tail of cnt objects. */
inline slab_free(head, tail, cnt) {
#ifdef STALELOCK
	read_pair();
	wasfull = (ofl == 0 && !ofr);
	emptied = (oin - cnt == 0);
	tocpu = wasfull && CPUPARTIAL;
	locked = (!LOCKLESS || (!ofr && !tocpu && (wasfull || emptied)));
#endif
	do
	:: read_pair();
		next[tail] = ofl;
#ifndef STALELOCK
		wasfull = (ofl == 0 && !ofr);
		emptied = (oin - cnt == 0);
		tocpu = wasfull && CPUPARTIAL;
		locked = (!LOCKLESS || (!ofr && !tocpu && (wasfull || emptied)));
#endif
		if
		:: locked -> lock()
		:: else -> skip
		fi;
		cmpxchg(head, oin - cnt, ofr, ok);
		if
		:: ok -> break
		:: else ->
			REACH(3) if
			:: locked -> unlock()
			:: else -> skip
			fi
		fi
	od;
	if
	:: !locked || ofr || tocpu ->
		if
		:: locked -> unlock()
		:: else -> skip
		fi;
		if
		:: tocpu -> REACH(5) put_cpu_partial()
		:: else -> skip
		fi
	:: else ->
		if
		:: emptied && NRPARTIAL >= MINPARTIAL && (onpartial || wasfull) ->
			if
			:: onpartial -> remove_partial()
			:: else -> skip
			fi;
			REACH(2) free_slab();
			unlock()
		:: else ->
			if
			:: wasfull && !onpartial -> REACH(1) add_partial()
			:: else -> skip
			fi;
			unlock()
		fi
	fi;
	atomic { ofl = 0; oin = 0; ofr = 0; ogen = 0; ok = 0; wasfull = 0; emptied = 0; tocpu = 0; locked = 0 }
}

/* takeFreelist (get_freelist_nofreeze): the whole freelist, all in use. */
inline take_freelist(fl) {
	do
	:: read_pair();
		if
		:: ofl == 0 -> fl = 0; break
		:: else ->
			cmpxchg(0, NOBJ, ofr, ok);
			if
			:: ok -> fl = ofl; break
			:: else -> skip
			fi
		fi
	od;
	atomic { ofl = 0; oin = 0; ofr = 0; ogen = 0; ok = 0 }
}

/* freezeLocked (freeze_slab): the whole freelist; the slab becomes frozen. */
inline freeze(fl) {
	do
	:: read_pair();
		if
		:: ofl == 0 -> fl = 0; break
		:: else ->
			cmpxchg(0, NOBJ, 1, ok);
			if
			:: ok -> fl = ofl; break
			:: else -> skip
			fi
		fi
	od;
	atomic { ofl = 0; oin = 0; ofr = 0; ogen = 0; ok = 0 }
}

/* Take the objects of a detached chain as handed out (ghost). */
inline hand_chain(fl) {
	d_step {
		o2 = fl;
		do
		:: o2 != 0 -> CHECK(!out[o2], "violated: object handed out twice\n"); out[o2] = 1; o2 = next[o2]
		:: else -> break
		od
	}
}

inline give(o) { d_step { CHECK(out[o], "violated: freeing an object not handed out\n"); out[o] = 0 } }

/* deactivateSlab: splice the detached cpu freelist fl back, unfreeze. */
inline deactivate(fl) {
	d_step {
		/* chainEnd, on the private chain */
		tail = 0; cnt = 0; o2 = fl;
		do
		:: o2 != 0 -> tail = o2; cnt++; o2 = next[o2]
		:: else -> break
		od;
		o2 = fl;
		do
		:: o2 != 0 -> out[o2] = 0; o2 = next[o2]
		:: else -> break
		od
	};
#if !LOCKLESS && !defined(NOLOCKPAIR)
	lock();
#endif
	do
	:: read_pair();
		remote = (ofl != 0);
		if
		:: fl != 0 -> next[tail] = ofl; h = fl
		:: else -> h = ofl
		fi;
		cmpxchg(h, oin - cnt, 0, ok);
		if
		:: ok -> nin = oin - cnt; nfree = NOBJ - nin; break
		:: else -> skip
		fi
	od;
#if !LOCKLESS && !defined(NOLOCKPAIR)
	unlock();
#endif
	lock();
	if
	:: nin == 0 && NRPARTIAL >= MINPARTIAL -> REACH(7) free_slab()
	:: else ->
		if
		:: nfree > 0 -> add_partial()
		:: else -> skip	/* full, on no list */
		fi
	fi;
	unlock();
	atomic { ofl = 0; oin = 0; ofr = 0; ogen = 0; ok = 0; h = 0; tail = 0; cnt = 0; nin = 0; nfree = 0; remote = 0 }
}

/* A freer: objects o (and p, as one detached freelist, when p != 0). */
proctype F(byte o; byte p) {
	byte ofl, oin, ogen, o2, k;
	bit ofr, ok, wasfull, emptied, tocpu, locked;
	give(o);
	if
	:: p != 0 -> give(p); next[p] = o; slab_free(p, o, 2)
	:: else -> slab_free(o, o, 1)
	fi
}

#ifndef CPUSLAB
/* The Sheaves design's takers: refillObjects or allocFromSlabs; then it
 * frees what it got, one by one. */
proctype A() {
	byte ofl, oin, ogen, o2, k, fl, max, got1, got2, rest, tail, cnt;
	bit ofr, ok, wasfull, emptied, tocpu, locked;
	if
	:: max = 1
	:: max = 2
	:: max = 0		/* allocFromSlabs */
	fi;
	lock();
	if
	:: max > 0 ->
		/* refillObjects: detach a partial slab, take its freelist. */
		if
		:: onpartial -> remove_partial(); take_freelist(fl); hand_chain(fl)
		:: else -> fl = 0
		fi;
		unlock();
		if
		:: fl != 0 ->
			got1 = fl; rest = next[fl];
			if
			:: max == 2 && rest != 0 -> got2 = rest; rest = next[rest]
			:: else -> skip
			fi;
			if
			:: rest != 0 ->
				/* more than it can take: give the rest back */
				REACH(4) d_step {
					tail = rest; cnt = 1; o2 = rest; out[o2] = 0;
					do
					:: next[tail] != 0 -> tail = next[tail]; out[tail] = 0; cnt++
					:: else -> break
					od;
					o2 = 0
				};
				slab_free(rest, tail, cnt)
			:: else -> skip
			fi
		:: else -> skip
		fi
	:: else ->
		/* allocFromSlabs: pop one object from a partial slab. */
		if
		:: onpartial ->
			do
			:: read_pair();
				if
				:: ofl == 0 -> remove_partial(); break	/* emptied by a refill */
				:: else ->
					o2 = next[ofl];
					cmpxchg(o2, oin + 1, ofr, ok);
					if
					:: ok ->
						d_step { CHECK(!out[ofl], "violated: object handed out twice\n"); out[ofl] = 1 };
						got1 = ofl;
						if
						:: o2 == 0 -> remove_partial()
						:: else -> skip
						fi;
						break
					:: else -> skip
					fi
				fi
			od
		:: else -> skip
		fi;
		unlock()
	fi;
	atomic { ofl = 0; oin = 0; ofr = 0; ogen = 0; ok = 0; o2 = 0; fl = 0; rest = 0; tail = 0; cnt = 0 };
	if
	:: got1 != 0 -> give(got1); slab_free(got1, got1, 1)
	:: else -> skip
	fi;
	if
	:: got2 != 0 -> give(got2); slab_free(got2, got2, 1)
	:: else -> skip
	fi
}
#else
/* The old design: A holds the cpu freelist of the frozen cpu slab S, {3}
 * or empty, and deactivates it (flushCPULocked, or the slow path's
 * exhaustion). */
proctype A(byte fl) {
	byte ofl, oin, ogen, o2, k, h, tail, cnt, nin, nfree;
	bit ofr, ok, remote;
	deactivate(fl)
}

/* The old design's other users of S: either the cpu partial list's owner,
 * when S is on that list, drains it to the node (__put_partials) or takes
 * S as the cpu slab again (the slow path's cpu partial step: freeze, hand
 * out the first object, deactivate the rest); or, at any time, a slow path
 * takes S from the node partial list (get_partial_node: under list_lock,
 * remove and freeze), hands out its first object and deactivates the rest. */
proctype C() {
	byte ofl, oin, ogen, o2, k, h, tail, cnt, nin, nfree, fl, got, take;
	bit ofr, ok, remote, wasfull, emptied, tocpu, locked;
	if
	:: true ->
end:		atomic { oncpupartial -> oncpupartial = 0 };
		if
		:: take = 0
		:: take = 1
		fi
	:: true ->
		/* get_partial_node */
		lock();
		if
		:: onpartial -> remove_partial(); freeze(fl)
		:: else -> skip
		fi;
		unlock();
		take = 2
	fi;
	if
	:: take == 0 ->
		/* __put_partials */
		lock();
		if
		:: inuse == 0 && NRPARTIAL >= MINPARTIAL -> free_slab()
		:: else -> add_partial()
		fi;
		unlock()
	:: take == 1 ->
#if !LOCKLESS
		lock();
#endif
		freeze(fl);
#if !LOCKLESS
		unlock();
#endif
	:: else -> skip
	fi;
	if
	:: take != 0 && fl != 0 ->
		REACH(6) hand_chain(fl);
		got = fl; fl = next[fl];
		deactivate(fl);
		give(got);
		slab_free(got, got, 1)
	:: else -> skip	/* nothing taken, or nothing free: full, on no list */
	fi
}
#endif

init {
	byte o, ln;
#ifdef OTHERS
	others = OTHERS;
#else
	if
	:: others = 0
	:: others = 1
	fi;
#endif
	d_step {
#ifndef CPUSLAB
		/* S partial: object 3 free, 1 and 2 handed out. */
		sfl = 3; inuse = 2; onpartial = 1;
		out[1] = 1; out[2] = 1;
#else
		/* S a frozen cpu slab; its cpu freelist {3} is detached by A. */
		sfl = 0; inuse = 3; frozen = 1;
		out[1] = 1; out[2] = 1; out[3] = 1;
#endif
		o = 0
	}
	atomic {
		if
		:: run F(1, 0); run F(2, 0)
		:: run F(1, 2)
		fi;
#ifndef CPUSLAB
		run A();
#else
		if
		:: run A(3)
		:: run A(0); run F(3, 0)	/* the cpu freelist is empty */
		fi;
		run C();
#endif
	}
	timeout;	/* every other process has ended or waits at an end label */
	d_step {
		CHECK(!frozen || freed, "violated: S still frozen at the end\n");
		CHECK(freed || ((sfl != 0 && !oncpupartial) -> onpartial : !onpartial), "violated: S has free objects and is on no list, or is listed while full\n");
		CHECK(!freed || (inuse == 0 && !onpartial && !oncpupartial), "violated: a freed slab in use or on a list\n");
		o = 1;
		do
		:: o <= NOBJ -> CHECK(!out[o], "violated: an object still handed out at the end\n"); o++
		:: else -> break
		od;
		o = sfl; ln = 0;
		do
		:: o != 0 && ln <= NOBJ -> ln++; o = next[o]
		:: else -> break
		od;
		CHECK(freed || ln == NOBJ, "violated: an object lost\n")
	}
}
