//! TextHouse's generator and expert (agent-envs.md, E1 "World generation" and "Expert").
//!
//! One candidate instance draws from the `ChaCha8Rng` stream, only through `text::draw`, in
//! this order:
//! 1. the task type: `below(task_types.len())`;
//! 2. the object type among those the task type allows (`look_at_obj_in_light`: book, pen, cd,
//!    keychain, watch; clean: all but those; heat and cool: food and dishes; the rest: all);
//! 3. unless the task is `look_at_obj_in_light`, the target type among the object type's homes
//!    ([`ObjKind::homes`]) minus the task's own appliance (no `clean` into the sink basin, `hot`
//!    into the microwave or stove burner, `cool` into the fridge);
//! 4. a source type: a home of the object type other than the target, so that the object has
//!    somewhere to start that does not already satisfy the goal;
//! 5. heat tasks only: `bernoulli(0.5)` for a microwave (else a stove burner) as the heater;
//! 6. the receptacle count `between(receptacles_min, receptacles_max)`, raised to the number of
//!    required types (target, source, appliance: one instance of each);
//! 7. each further receptacle: a type drawn with weight equal to its remaining cap
//!    ([`RecepKind::max_count`]), one `below` per receptacle;
//! 8. the object count `between(objects_min, objects_max)`, at least 2 for pick-two;
//! 9. each object beyond the required ones (two for pick-two, else one): a type among those with
//!    a home in the scene;
//! 10. each object, in id order: its receptacle, uniform over the scene's instances of its
//!     homes, excluding instances of the target type for objects of the task's type;
//! 11. each openable receptacle, in id order: `bernoulli(p_closed)` for closed.
//!
//! The generator then plans the expert on the candidate and rejects it when the plan is longer
//! than `horizon - 5` steps, drawing the next candidate from the same stream.
use rand_chacha::ChaCha8Rng;

use super::world::{Action, Goal, ObjKind, RecepKind, Scene, State, HELD, MAX_OBJECTS};
use super::{Config, TaskType};
use crate::text::draw::{below, bernoulli, between};

/// Uniform choice from a non-empty slice.
fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[below(rng, items.len() as u64) as usize]
}

/// The object types a task type may ask for.
fn allowed_objects(task: TaskType) -> Vec<ObjKind> {
    let allowed = |o: ObjKind| match task {
        TaskType::LookAtObjInLight => o.light_examine(),
        TaskType::PickCleanThenPlace => o.cleanable(),
        TaskType::PickHeatThenPlace | TaskType::PickCoolThenPlace => o.heatable(),
        TaskType::PickAndPlace | TaskType::PickTwoObjAndPlace => true,
    };
    ObjKind::ALL.into_iter().filter(|&o| allowed(o)).collect()
}

/// Draws one candidate instance (steps 1-11 of the module doc).
pub(crate) fn draw_candidate(config: &Config, rng: &mut ChaCha8Rng) -> (Scene, State) {
    let task = pick(rng, &config.task_types);
    let object = pick(rng, &allowed_objects(task));
    let homes = object.homes();
    let target = if task == TaskType::LookAtObjInLight {
        None
    } else {
        let excluded = |r: RecepKind| match task {
            TaskType::PickCleanThenPlace => r == RecepKind::Sinkbasin,
            TaskType::PickHeatThenPlace => {
                matches!(r, RecepKind::Microwave | RecepKind::Stoveburner)
            }
            TaskType::PickCoolThenPlace => r == RecepKind::Fridge,
            _ => false,
        };
        let targets: Vec<RecepKind> = homes.iter().copied().filter(|&r| !excluded(r)).collect();
        Some(pick(rng, &targets))
    };
    let sources: Vec<RecepKind> = homes
        .iter()
        .copied()
        .filter(|&r| Some(r) != target)
        .collect();
    let source = pick(rng, &sources);
    let appliance = match task {
        TaskType::PickCleanThenPlace => Some(RecepKind::Sinkbasin),
        TaskType::PickHeatThenPlace => Some(if bernoulli(rng, 0.5) {
            RecepKind::Microwave
        } else {
            RecepKind::Stoveburner
        }),
        TaskType::PickCoolThenPlace => Some(RecepKind::Fridge),
        TaskType::LookAtObjInLight => Some(RecepKind::Desklamp),
        TaskType::PickAndPlace | TaskType::PickTwoObjAndPlace => None,
    };

    let mut counts = [0usize; RecepKind::ALL.len()];
    for required in [target, Some(source), appliance].into_iter().flatten() {
        counts[required as usize] = 1;
    }
    let required_receps: usize = counts.iter().sum();
    let n_receps = (between(
        rng,
        config.receptacles_min as u64,
        config.receptacles_max as u64,
    ) as usize)
        .max(required_receps);
    for _ in required_receps..n_receps {
        let free: Vec<usize> = RecepKind::ALL
            .iter()
            .zip(&counts)
            .map(|(kind, &n)| kind.max_count() - n)
            .collect();
        let mut slot = below(rng, free.iter().sum::<usize>() as u64) as usize;
        for (count, free) in counts.iter_mut().zip(free) {
            if slot < free {
                *count += 1;
                break;
            }
            slot -= free;
        }
    }
    let receps: Vec<RecepKind> = RecepKind::ALL
        .iter()
        .zip(counts)
        .flat_map(|(&r, n)| std::iter::repeat_n(r, n))
        .collect();

    let required_objs = if task == TaskType::PickTwoObjAndPlace {
        2
    } else {
        1
    };
    let n_objs = (between(rng, config.objects_min as u64, config.objects_max as u64) as usize)
        .max(required_objs);
    let placeable: Vec<ObjKind> = ObjKind::ALL
        .into_iter()
        .filter(|o| o.homes().iter().any(|h| receps.contains(h)))
        .collect();
    let mut objs = vec![object; required_objs];
    for _ in required_objs..n_objs {
        objs.push(pick(rng, &placeable));
    }
    objs.sort_by_key(|&o| o as usize);

    let mut state = State {
        agent_at: None,
        holding: None,
        open: 0,
        loc: [HELD; MAX_OBJECTS],
        hot: 0,
        cold: 0,
        clean: 0,
        lamp_on: false,
    };
    for (o, &kind) in objs.iter().enumerate() {
        let spots: Vec<u8> = (0..receps.len())
            .filter(|&r| kind.homes().contains(&receps[r]))
            .filter(|&r| kind != object || Some(receps[r]) != target)
            .map(|r| r as u8)
            .collect();
        state.loc[o] = pick(rng, &spots);
    }
    for (r, kind) in receps.iter().enumerate() {
        if kind.openable() && !bernoulli(rng, config.p_closed) {
            state.open |= 1 << r;
        }
    }

    let scene = Scene {
        recep_names: super::world::instance_names(&receps, RecepKind::name),
        obj_names: super::world::instance_names(&objs, ObjKind::name),
        receps,
        objs,
        goal: Goal {
            task,
            object,
            target,
        },
    };
    (scene, state)
}

/// The expert's plan from `start` (spec E1 "Expert"): search the homes of the task's object
/// type in their fixed order (instances of the target type skipped, since the generator never
/// starts a task object there), opening closed ones, until one holds an object of the type;
/// take it; process it at the first sink basin, heater (a microwave if there is one) or fridge;
/// go to the first instance of the target type, open it if closed, put. Pick-two does this twice,
/// first returning to a receptacle already seen to hold a second object. Look-at-in-light takes
/// the object to the desk lamp and uses it. The planner remembers what it has seen, never what
/// it has not, so its demonstrations are behaviour a policy can imitate from the observations.
/// `None` when the plan does not reach the goal, which the generator's placement rules out; the
/// generator rejects such a candidate like a too-long one.
pub(crate) fn expert_plan(scene: &Scene, start: &State) -> Option<Vec<Action>> {
    let goal = scene.goal;
    let ids_of = |kind: RecepKind| {
        (0..scene.receps.len() as u8).filter(move |&r| scene.receps[r as usize] == kind)
    };
    let first_of = |kind: RecepKind| ids_of(kind).next();
    let candidates: Vec<u8> = goal
        .object
        .homes()
        .iter()
        .filter(|&&h| Some(h) != goal.target)
        .flat_map(|&h| ids_of(h))
        .collect();
    let holds_wanted = |state: &State, r: u8| {
        (0..scene.objs.len()).find(|&o| scene.objs[o] == goal.object && state.loc[o] == r)
    };

    let mut state = *start;
    let mut plan = Vec::new();
    let mut scratch = String::new();
    let mut act = |state: &mut State, action: Action| {
        scratch.clear();
        scene.perform(state, action, &mut scratch);
        plan.push(action);
    };
    let visit = |state: &mut State, r: u8, act: &mut dyn FnMut(&mut State, Action)| {
        if state.agent_at != Some(r) {
            act(state, Action::GoTo(r));
        }
        if !scene.accessible(state, r) {
            act(state, Action::Open(r));
        }
    };

    let rounds = if goal.task == TaskType::PickTwoObjAndPlace {
        2
    } else {
        1
    };
    let mut searched = 0;
    for _ in 0..rounds {
        let seen = candidates[..searched]
            .iter()
            .copied()
            .find(|&r| holds_wanted(&state, r).is_some());
        let source = match seen {
            Some(r) => Some(r),
            None => loop {
                let Some(&r) = candidates.get(searched) else {
                    break None;
                };
                searched += 1;
                visit(&mut state, r, &mut act);
                if holds_wanted(&state, r).is_some() {
                    break Some(r);
                }
            },
        };
        // Out of candidates: unreachable for generated scenes, caught by the goal check below.
        let Some(source) = source else { break };
        visit(&mut state, source, &mut act);
        let Some(o) = holds_wanted(&state, source) else {
            break;
        };
        let o = o as u8;
        act(&mut state, Action::Take(o, source));

        let appliance = match goal.task {
            TaskType::PickCleanThenPlace => {
                first_of(RecepKind::Sinkbasin).map(|r| (r, Action::Clean(o, r)))
            }
            TaskType::PickHeatThenPlace => first_of(RecepKind::Microwave)
                .or_else(|| first_of(RecepKind::Stoveburner))
                .map(|r| (r, Action::Heat(o, r))),
            TaskType::PickCoolThenPlace => {
                first_of(RecepKind::Fridge).map(|r| (r, Action::Cool(o, r)))
            }
            TaskType::LookAtObjInLight => {
                first_of(RecepKind::Desklamp).map(|r| (r, Action::Use(r)))
            }
            TaskType::PickAndPlace | TaskType::PickTwoObjAndPlace => None,
        };
        if let Some((r, process)) = appliance {
            if state.agent_at != Some(r) {
                act(&mut state, Action::GoTo(r));
            }
            act(&mut state, process);
        }
        if let Some(target) = goal.target.and_then(first_of) {
            visit(&mut state, target, &mut act);
            act(&mut state, Action::Put(o, target));
        }
    }
    scene.goal_met(&state).then_some(plan)
}
