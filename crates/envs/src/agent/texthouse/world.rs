//! TextHouse's world (agent-envs.md, E1): the receptacle and object types, the scene of one
//! instance, its state, the action grammar and the simulator that applies an action to a state.
//!
//! The simulator is split into [`Scene::valid`] (the preconditions of the spec's action table)
//! and [`Scene::perform`] (the effect and its observation), so that the admissible list, the
//! expert and `step` all rest on the one precondition check.
use std::fmt::Write;

use super::TaskType;

/// Receptacle types in the spec's order, which is also the order of receptacle ids (and so of
/// the listing in the first observation). `ALL` is in declaration order: `kind as usize`
/// indexes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecepKind {
    Countertop,
    Diningtable,
    Shelf,
    Sidetable,
    Cabinet,
    Drawer,
    Fridge,
    Microwave,
    Stoveburner,
    Sinkbasin,
    Garbagecan,
    Desklamp,
}

impl RecepKind {
    pub(crate) const ALL: [RecepKind; 12] = [
        RecepKind::Countertop,
        RecepKind::Diningtable,
        RecepKind::Shelf,
        RecepKind::Sidetable,
        RecepKind::Cabinet,
        RecepKind::Drawer,
        RecepKind::Fridge,
        RecepKind::Microwave,
        RecepKind::Stoveburner,
        RecepKind::Sinkbasin,
        RecepKind::Garbagecan,
        RecepKind::Desklamp,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            RecepKind::Countertop => "countertop",
            RecepKind::Diningtable => "diningtable",
            RecepKind::Shelf => "shelf",
            RecepKind::Sidetable => "sidetable",
            RecepKind::Cabinet => "cabinet",
            RecepKind::Drawer => "drawer",
            RecepKind::Fridge => "fridge",
            RecepKind::Microwave => "microwave",
            RecepKind::Stoveburner => "stoveburner",
            RecepKind::Sinkbasin => "sinkbasin",
            RecepKind::Garbagecan => "garbagecan",
            RecepKind::Desklamp => "desklamp",
        }
    }

    /// Most instances of the type in one scene. A kitchen-and-bedroom mix like ALFWorld's: one
    /// fridge, microwave, garbage can and dining table; one desk lamp, so that the spec's single
    /// `lamp_on` flag is the state of the lamp the agent stands at. The caps add up to
    /// [`MAX_RECEPTACLES`].
    pub(crate) fn max_count(self) -> usize {
        match self {
            RecepKind::Countertop | RecepKind::Shelf => 3,
            RecepKind::Sidetable | RecepKind::Sinkbasin => 2,
            RecepKind::Cabinet => 6,
            RecepKind::Drawer => 5,
            RecepKind::Stoveburner => 4,
            RecepKind::Diningtable
            | RecepKind::Fridge
            | RecepKind::Microwave
            | RecepKind::Garbagecan
            | RecepKind::Desklamp => 1,
        }
    }

    pub(crate) fn openable(self) -> bool {
        matches!(
            self,
            RecepKind::Cabinet | RecepKind::Drawer | RecepKind::Fridge | RecepKind::Microwave
        )
    }

    /// Whether its contents line says `In` (containers) rather than `On` (surfaces).
    fn container(self) -> bool {
        self.openable() || matches!(self, RecepKind::Sinkbasin | RecepKind::Garbagecan)
    }

    /// The desk lamp is a light, not a container: nothing can be put on it.
    pub(crate) fn holds_objects(self) -> bool {
        self != RecepKind::Desklamp
    }

    fn heats(self) -> bool {
        matches!(self, RecepKind::Microwave | RecepKind::Stoveburner)
    }
}

/// Upper bound of the receptacle-count knob: the sum of [`RecepKind::max_count`].
pub(crate) const MAX_RECEPTACLES: usize = 30;
/// Upper bound of the object-count knob (the state keeps per-object flags in `u32` bit sets).
pub(crate) const MAX_OBJECTS: usize = 32;

/// Object types in the spec's order (the order of object ids, hence of every listing). `ALL`
/// is in declaration order: `kind as usize` indexes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjKind {
    Apple,
    Tomato,
    Potato,
    Egg,
    Bread,
    Mug,
    Cup,
    Plate,
    Bowl,
    Knife,
    Spoon,
    Fork,
    Book,
    Pen,
    Cd,
    Keychain,
    Watch,
}

impl ObjKind {
    pub(crate) const ALL: [ObjKind; 17] = [
        ObjKind::Apple,
        ObjKind::Tomato,
        ObjKind::Potato,
        ObjKind::Egg,
        ObjKind::Bread,
        ObjKind::Mug,
        ObjKind::Cup,
        ObjKind::Plate,
        ObjKind::Bowl,
        ObjKind::Knife,
        ObjKind::Spoon,
        ObjKind::Fork,
        ObjKind::Book,
        ObjKind::Pen,
        ObjKind::Cd,
        ObjKind::Keychain,
        ObjKind::Watch,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            ObjKind::Apple => "apple",
            ObjKind::Tomato => "tomato",
            ObjKind::Potato => "potato",
            ObjKind::Egg => "egg",
            ObjKind::Bread => "bread",
            ObjKind::Mug => "mug",
            ObjKind::Cup => "cup",
            ObjKind::Plate => "plate",
            ObjKind::Bowl => "bowl",
            ObjKind::Knife => "knife",
            ObjKind::Spoon => "spoon",
            ObjKind::Fork => "fork",
            ObjKind::Book => "book",
            ObjKind::Pen => "pen",
            ObjKind::Cd => "cd",
            ObjKind::Keychain => "keychain",
            ObjKind::Watch => "watch",
        }
    }

    fn is_food(self) -> bool {
        matches!(
            self,
            ObjKind::Apple | ObjKind::Tomato | ObjKind::Potato | ObjKind::Egg | ObjKind::Bread
        )
    }

    fn is_dish(self) -> bool {
        matches!(
            self,
            ObjKind::Mug | ObjKind::Cup | ObjKind::Plate | ObjKind::Bowl
        )
    }

    fn is_cutlery(self) -> bool {
        matches!(self, ObjKind::Knife | ObjKind::Spoon | ObjKind::Fork)
    }

    /// Food, dishes and cutlery can be cleaned; the light-examine things cannot.
    pub(crate) fn cleanable(self) -> bool {
        self.is_food() || self.is_dish() || self.is_cutlery()
    }

    /// Food and dishes can be heated and cooled.
    pub(crate) fn heatable(self) -> bool {
        self.is_food() || self.is_dish()
    }

    /// Whether a `look_at_obj_in_light` task may ask for it.
    pub(crate) fn light_examine(self) -> bool {
        !self.cleanable()
    }

    /// The receptacle types an object of this type starts in, most likely first: the generator
    /// places objects only here, and the expert searches them in this order.
    pub(crate) fn homes(self) -> &'static [RecepKind] {
        use RecepKind::*;
        if self.is_food() {
            &[
                Countertop,
                Diningtable,
                Fridge,
                Microwave,
                Sinkbasin,
                Garbagecan,
            ]
        } else if self.is_dish() {
            &[
                Countertop,
                Diningtable,
                Cabinet,
                Shelf,
                Sinkbasin,
                Fridge,
                Microwave,
            ]
        } else if self.is_cutlery() {
            &[Countertop, Diningtable, Drawer, Sinkbasin]
        } else {
            &[Sidetable, Shelf, Drawer, Diningtable, Countertop]
        }
    }
}

/// What the episode asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Goal {
    pub(crate) task: TaskType,
    pub(crate) object: ObjKind,
    /// The receptacle type to put the object(s) in; `None` for `look_at_obj_in_light`.
    pub(crate) target: Option<RecepKind>,
}

impl Goal {
    /// The instruction, one template per task type (spec E1).
    pub(crate) fn instruction(&self) -> String {
        let o = self.object.name();
        let r = self.target.map_or("", RecepKind::name);
        match self.task {
            TaskType::PickAndPlace => format!("put a {o} in {r}"),
            TaskType::LookAtObjInLight => format!("look at {o} under the desklamp"),
            TaskType::PickCleanThenPlace => format!("put a clean {o} in {r}"),
            TaskType::PickHeatThenPlace => format!("put a hot {o} in {r}"),
            TaskType::PickCoolThenPlace => format!("put a cool {o} in {r}"),
            TaskType::PickTwoObjAndPlace => format!("put two {o} in {r}"),
        }
    }
}

/// Where an object is: a receptacle id, or this marker when the agent holds it.
pub(crate) const HELD: u8 = u8::MAX;

/// The mutable part of an instance (spec E1 "State"). `Copy`, so an invalid action can be
/// checked before anything changes and the expert can plan on a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct State {
    /// `None`: the middle of the room.
    pub(crate) agent_at: Option<u8>,
    pub(crate) holding: Option<u8>,
    /// Bit `r`: receptacle `r` is open (meaningful for openable ones only).
    pub(crate) open: u32,
    /// Receptacle id of each object, or [`HELD`].
    pub(crate) loc: [u8; MAX_OBJECTS],
    pub(crate) hot: u32,
    pub(crate) cold: u32,
    pub(crate) clean: u32,
    pub(crate) lamp_on: bool,
}

/// One action of the grammar, with receptacle and object ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    GoTo(u8),
    Open(u8),
    Close(u8),
    Take(u8, u8),
    Put(u8, u8),
    Clean(u8, u8),
    Heat(u8, u8),
    Cool(u8, u8),
    Use(u8),
    Look,
    Inventory,
    ExamineRecep(u8),
    ExamineObj(u8),
}

/// The fixed part of an instance: the receptacles and objects (ids are indices, ordered by type
/// then number), their names, and the goal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scene {
    pub(crate) receps: Vec<RecepKind>,
    pub(crate) recep_names: Vec<String>,
    pub(crate) objs: Vec<ObjKind>,
    pub(crate) obj_names: Vec<String>,
    pub(crate) goal: Goal,
}

fn bit(set: u32, i: u8) -> bool {
    set >> i & 1 == 1
}

/// `{kind} {n}` names, numbered per type in id order (`cabinet 1..k`).
pub(crate) fn instance_names<K: Copy + PartialEq>(
    kinds: &[K],
    name: fn(K) -> &'static str,
) -> Vec<String> {
    let mut names = Vec::with_capacity(kinds.len());
    for (i, &k) in kinds.iter().enumerate() {
        let n = kinds[..i].iter().filter(|&&other| other == k).count() + 1;
        names.push(format!("{} {n}", name(k)));
    }
    names
}

impl Scene {
    fn recep_named(&self, name: &str) -> Option<u8> {
        self.recep_names
            .iter()
            .position(|n| n == name)
            .map(|i| i as u8)
    }

    fn obj_named(&self, name: &str) -> Option<u8> {
        self.obj_names
            .iter()
            .position(|n| n == name)
            .map(|i| i as u8)
    }

    /// Parses a normalised action; `None` when it is outside the grammar or names a thing that
    /// does not exist. `put` accepts `in/on` (the canonical form, as in ALFWorld), `in` and `on`.
    pub(crate) fn parse(&self, action: &str) -> Option<Action> {
        let pair = |rest: &str, seps: &[&str]| -> Option<(u8, u8)> {
            let (o, r) = seps.iter().find_map(|sep| rest.split_once(sep))?;
            Some((self.obj_named(o)?, self.recep_named(r)?))
        };
        let (verb, rest) = action.split_once(' ').unwrap_or((action, ""));
        match verb {
            "look" if rest.is_empty() => Some(Action::Look),
            "inventory" if rest.is_empty() => Some(Action::Inventory),
            "go" => Some(Action::GoTo(self.recep_named(rest.strip_prefix("to ")?)?)),
            "open" => Some(Action::Open(self.recep_named(rest)?)),
            "close" => Some(Action::Close(self.recep_named(rest)?)),
            "use" => Some(Action::Use(self.recep_named(rest)?)),
            "take" => pair(rest, &[" from "]).map(|(o, r)| Action::Take(o, r)),
            "put" => pair(rest, &[" in/on ", " in ", " on "]).map(|(o, r)| Action::Put(o, r)),
            "clean" => pair(rest, &[" with "]).map(|(o, r)| Action::Clean(o, r)),
            "heat" => pair(rest, &[" with "]).map(|(o, r)| Action::Heat(o, r)),
            "cool" => pair(rest, &[" with "]).map(|(o, r)| Action::Cool(o, r)),
            "examine" => match self.recep_named(rest) {
                Some(r) => Some(Action::ExamineRecep(r)),
                None => Some(Action::ExamineObj(self.obj_named(rest)?)),
            },
            _ => None,
        }
    }

    /// The canonical text of an action (what the expert and the admissible list say).
    pub(crate) fn render(&self, action: Action) -> String {
        let r = |i: u8| self.recep_names[i as usize].as_str();
        let o = |i: u8| self.obj_names[i as usize].as_str();
        match action {
            Action::GoTo(x) => format!("go to {}", r(x)),
            Action::Open(x) => format!("open {}", r(x)),
            Action::Close(x) => format!("close {}", r(x)),
            Action::Take(a, x) => format!("take {} from {}", o(a), r(x)),
            Action::Put(a, x) => format!("put {} in/on {}", o(a), r(x)),
            Action::Clean(a, x) => format!("clean {} with {}", o(a), r(x)),
            Action::Heat(a, x) => format!("heat {} with {}", o(a), r(x)),
            Action::Cool(a, x) => format!("cool {} with {}", o(a), r(x)),
            Action::Use(x) => format!("use {}", r(x)),
            Action::Look => "look".to_string(),
            Action::Inventory => "inventory".to_string(),
            Action::ExamineRecep(x) => format!("examine {}", r(x)),
            Action::ExamineObj(a) => format!("examine {}", o(a)),
        }
    }

    fn kind(&self, r: u8) -> RecepKind {
        self.receps[r as usize]
    }

    /// Open, or without a door: its contents can be seen and reached.
    pub(crate) fn accessible(&self, state: &State, r: u8) -> bool {
        !self.kind(r).openable() || bit(state.open, r)
    }

    /// The preconditions of the spec's action table. Going to where the agent already stands
    /// is invalid (ALFWorld answers it with `Nothing happens.` and leaves it out of the
    /// admissible commands); so is opening an open or closing a closed receptacle.
    pub(crate) fn valid(&self, state: &State, action: Action) -> bool {
        let at = |r: u8| state.agent_at == Some(r);
        let holds = |o: u8| state.holding == Some(o);
        let obj = |o: u8| self.objs[o as usize];
        match action {
            Action::GoTo(r) => !at(r),
            Action::Open(r) => at(r) && self.kind(r).openable() && !bit(state.open, r),
            Action::Close(r) => at(r) && self.kind(r).openable() && bit(state.open, r),
            Action::Take(o, r) => {
                at(r)
                    && self.accessible(state, r)
                    && state.loc[o as usize] == r
                    && state.holding.is_none()
            }
            Action::Put(o, r) => {
                at(r) && holds(o) && self.accessible(state, r) && self.kind(r).holds_objects()
            }
            Action::Clean(o, r) => {
                at(r) && holds(o) && self.kind(r) == RecepKind::Sinkbasin && obj(o).cleanable()
            }
            Action::Heat(o, r) => at(r) && holds(o) && self.kind(r).heats() && obj(o).heatable(),
            Action::Cool(o, r) => {
                at(r) && holds(o) && self.kind(r) == RecepKind::Fridge && obj(o).heatable()
            }
            Action::Use(r) => at(r) && self.kind(r) == RecepKind::Desklamp,
            Action::Look | Action::Inventory => true,
            Action::ExamineRecep(r) => at(r),
            Action::ExamineObj(o) => holds(o),
        }
    }

    /// Applies a valid action (checked with [`Scene::valid`]) and writes its observation.
    pub(crate) fn perform(&self, state: &mut State, action: Action, out: &mut String) {
        let rn = |i: u8| self.recep_names[i as usize].as_str();
        let on = |i: u8| self.obj_names[i as usize].as_str();
        // Writing into a String cannot fail, so the results of write! are ignored.
        match action {
            Action::GoTo(r) => {
                state.agent_at = Some(r);
                let _ = write!(out, "You arrive at {}. ", rn(r));
                self.contents_line(state, r, out);
            }
            Action::Open(r) => {
                state.open |= 1 << r;
                let _ = write!(out, "You open the {}. In it, you see ", rn(r));
                self.list_contents(state, r, out);
                out.push('.');
            }
            Action::Close(r) => {
                state.open &= !(1 << r);
                let _ = write!(out, "You close the {}.", rn(r));
            }
            Action::Take(o, r) => {
                state.loc[o as usize] = HELD;
                state.holding = Some(o);
                let _ = write!(out, "You pick up the {} from the {}.", on(o), rn(r));
            }
            Action::Put(o, r) => {
                state.loc[o as usize] = r;
                state.holding = None;
                let _ = write!(out, "You put the {} in/on the {}.", on(o), rn(r));
            }
            Action::Clean(o, r) => {
                state.clean |= 1 << o;
                let _ = write!(out, "You clean the {} using the {}.", on(o), rn(r));
            }
            Action::Heat(o, r) => {
                state.hot |= 1 << o;
                state.cold &= !(1 << o);
                let _ = write!(out, "You heat the {} using the {}.", on(o), rn(r));
            }
            Action::Cool(o, r) => {
                state.cold |= 1 << o;
                state.hot &= !(1 << o);
                let _ = write!(out, "You cool the {} using the {}.", on(o), rn(r));
            }
            Action::Use(r) => {
                state.lamp_on = true;
                let _ = write!(out, "You turn on the {}.", rn(r));
            }
            Action::Look => match state.agent_at {
                Some(r) => {
                    let _ = write!(
                        out,
                        "You are facing the {}. Next to it, you see nothing.",
                        rn(r)
                    );
                }
                None => out.push_str("You are in the middle of a room."),
            },
            Action::Inventory => match state.holding {
                Some(o) => {
                    let _ = write!(out, "You are carrying: a {}.", on(o));
                }
                None => out.push_str("You are not carrying anything."),
            },
            Action::ExamineRecep(r) => self.contents_line(state, r, out),
            Action::ExamineObj(o) => {
                let _ = write!(out, "There's nothing special about {}.", on(o));
            }
        }
    }

    /// `On the {r}, you see a {o1}, and a {o2}.` (`In` for containers), or `The {r} is closed.`
    fn contents_line(&self, state: &State, r: u8, out: &mut String) {
        let kind = self.kind(r);
        if !self.accessible(state, r) {
            let _ = write!(out, "The {} is closed.", self.recep_names[r as usize]);
            return;
        }
        let word = if kind.container() { "In" } else { "On" };
        let _ = write!(out, "{word} the {}, you see ", self.recep_names[r as usize]);
        self.list_contents(state, r, out);
        out.push('.');
    }

    /// `nothing`, `a {o1}`, `a {o1}, and a {o2}`, `a {o1}, a {o2}, and a {o3}`: ascending ids.
    fn list_contents(&self, state: &State, r: u8, out: &mut String) {
        let inside = || (0..self.objs.len()).filter(move |&o| state.loc[o] == r);
        let count = inside().count();
        if count == 0 {
            out.push_str("nothing");
        }
        for (i, o) in inside().enumerate() {
            if i > 0 {
                out.push_str(if i + 1 == count { ", and " } else { ", " });
            }
            out.push_str("a ");
            out.push_str(&self.obj_names[o]);
        }
    }

    /// The valid actions in `state`, in a fixed order: every `go to`, then what can be done
    /// where the agent stands, then `examine` of the held object, `inventory`, `look`.
    pub(crate) fn admissible(&self, state: &State) -> Vec<Action> {
        let mut candidates = Vec::with_capacity(self.receps.len() + 16);
        candidates.extend((0..self.receps.len() as u8).map(Action::GoTo));
        if let Some(r) = state.agent_at {
            candidates.extend([Action::Open(r), Action::Close(r)]);
            candidates.extend((0..self.objs.len() as u8).map(|o| Action::Take(o, r)));
            if let Some(o) = state.holding {
                candidates.extend([
                    Action::Put(o, r),
                    Action::Clean(o, r),
                    Action::Heat(o, r),
                    Action::Cool(o, r),
                ]);
            }
            candidates.extend([Action::Use(r), Action::ExamineRecep(r)]);
        }
        if let Some(o) = state.holding {
            candidates.push(Action::ExamineObj(o));
        }
        candidates.extend([Action::Inventory, Action::Look]);
        candidates.retain(|&a| self.valid(state, a));
        candidates
    }

    /// The goal predicate of the task type (spec E1 "Goal predicates").
    pub(crate) fn goal_met(&self, state: &State) -> bool {
        let goal = self.goal;
        let of_type = |o: usize| self.objs[o] == goal.object;
        let in_target = |o: usize| {
            let r = state.loc[o];
            r != HELD && Some(self.receps[r as usize]) == goal.target
        };
        let flag = |o: usize| match goal.task {
            TaskType::PickCleanThenPlace => bit(state.clean, o as u8),
            TaskType::PickHeatThenPlace => bit(state.hot, o as u8),
            TaskType::PickCoolThenPlace => bit(state.cold, o as u8),
            _ => true,
        };
        match goal.task {
            TaskType::LookAtObjInLight => {
                state.holding.is_some_and(|o| of_type(o as usize))
                    && state
                        .agent_at
                        .is_some_and(|r| self.kind(r) == RecepKind::Desklamp)
                    && state.lamp_on
            }
            TaskType::PickTwoObjAndPlace => (0..self.receps.len()).any(|r| {
                Some(self.receps[r]) == goal.target
                    && (0..self.objs.len())
                        .filter(|&o| of_type(o) && state.loc[o] as usize == r)
                        .count()
                        >= 2
            }),
            _ => (0..self.objs.len()).any(|o| of_type(o) && in_target(o) && flag(o)),
        }
    }

    /// The first observation without the admissible list: the room and the instruction.
    pub(crate) fn intro(&self) -> String {
        let mut out =
            String::from("You are in the middle of a room. Looking quickly around you, you see ");
        let n = self.recep_names.len();
        for (i, name) in self.recep_names.iter().enumerate() {
            if i > 0 {
                out.push_str(if i + 1 == n { ", and " } else { ", " });
            }
            out.push_str("a ");
            out.push_str(name);
        }
        let _ = write!(out, ".\nYour task is to: {}.", self.goal.instruction());
        out
    }
}
