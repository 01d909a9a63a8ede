//! Submitting work and moving data: `submit`, `map` (pure and impure), `scatter`, `gather`,
//! `cancel`.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::future::{Future, FutureHandle};
use super::options::SubmitOptions;
use super::Executor;
use crate::error::serve_hint;
use crate::function::task::{fresh_key, pure_key};
use crate::function::{Arg, ArgSpec, IntoArgs, KeepAlive, RemoteFunction, TaskBody};
use crate::ids::TaskKey;
use crate::messages::executor_link::{ClusterSnapshot, ExecutorToScheduler};
use crate::messages::tasks::{NewTaskMsg, RestrictionsMsg};
use crate::resources::{ResourceError, Resources};
use crate::scheduler::FunctionId;

impl Executor {
    /// Runs `f(args…)` on the cluster. Each argument may be a value, a `&Future`, or a
    /// `&Vec<Future<T>>` standing for a `Vec<T>`. The same call gives the same key and is
    /// computed once.
    ///
    /// ```no_run
    /// # use taskforce::{remote, Executor};
    /// # #[remote] fn inc(x: i64) -> i64 { x + 1 }
    /// # #[remote] fn add(x: i64, y: i64) -> i64 { x + y }
    /// # fn main() -> taskforce::Result<()> {
    /// # let executor = Executor::connect("127.0.0.1:8787")?;
    /// let a = executor.submit(inc, (1,))?;
    /// let c = executor.submit(add, (&a, 100))?;
    /// # Ok(()) }
    /// ```
    pub fn submit<F, A>(&self, f: F, args: A) -> crate::Result<Future<F::Output>>
    where
        F: RemoteFunction,
        A: IntoArgs<F::Args>,
    {
        self.submit_with(f, args, SubmitOptions::new())
    }

    /// Like [`Executor::submit`], but every call gets a fresh key (for random data).
    pub fn submit_impure<F, A>(&self, f: F, args: A) -> crate::Result<Future<F::Output>>
    where
        F: RemoteFunction,
        A: IntoArgs<F::Args>,
    {
        self.submit_with(f, args, SubmitOptions::new().impure())
    }

    /// Like [`Executor::submit`], with [`SubmitOptions`]: retries for a flaky function,
    /// a fresh key.
    pub fn submit_with<F, A>(
        &self,
        f: F,
        args: A,
        options: SubmitOptions,
    ) -> crate::Result<Future<F::Output>>
    where
        F: RemoteFunction,
        A: IntoArgs<F::Args>,
    {
        let mut keep = KeepAlive::new();
        let bound = self.prepare(&f)?;
        let restrictions = self.restrictions(&options)?;
        let mut calls = [args.into_specs_keeping(&mut keep)?];
        self.place_large_arguments(&mut calls, &mut keep)?;
        let [specs] = calls;
        let task = self.task(&f, specs, &bound, &options, &restrictions)?;
        let future = self.send_tasks(vec![task]).pop().expect("one future");
        drop(keep); // only now: the task reading these futures' keys has been sent
        Ok(future)
    }

    /// Runs a one-argument function on every item (values or futures); one future per item,
    /// in order.
    pub fn map<F, A, I>(&self, f: F, items: I) -> crate::Result<Vec<Future<F::Output>>>
    where
        F: RemoteFunction<Args = (A,)>,
        I: IntoIterator,
        I::Item: Arg<A>,
    {
        self.map_with(f, items, SubmitOptions::new())
    }

    /// Like [`Executor::map`], but every call gets a fresh key.
    pub fn map_impure<F, A, I>(&self, f: F, items: I) -> crate::Result<Vec<Future<F::Output>>>
    where
        F: RemoteFunction<Args = (A,)>,
        I: IntoIterator,
        I::Item: Arg<A>,
    {
        self.map_with(f, items, SubmitOptions::new().impure())
    }

    /// Like [`Executor::map`], with [`SubmitOptions`] for every call.
    pub fn map_with<F, A, I>(
        &self,
        f: F,
        items: I,
        options: SubmitOptions,
    ) -> crate::Result<Vec<Future<F::Output>>>
    where
        F: RemoteFunction<Args = (A,)>,
        I: IntoIterator,
        I::Item: Arg<A>,
    {
        let mut keep = KeepAlive::new();
        let bound = self.prepare(&f)?;
        let restrictions = self.restrictions(&options)?;
        let tasks = items
            .into_iter()
            .map(|item| {
                self.task(
                    &f,
                    vec![item.into_spec_keeping(&mut keep)?],
                    &bound,
                    &options,
                    &restrictions,
                )
            })
            .collect::<crate::Result<Vec<_>>>()?;
        let futures = self.send_tasks(tasks);
        drop(keep); // only now: the tasks reading these futures' keys have been sent
        Ok(futures)
    }

    /// Once per submission, not per task: checks the cluster can run `f` and returns its
    /// bound arguments.
    fn prepare<F: RemoteFunction>(&self, f: &F) -> crate::Result<Vec<ArgSpec>> {
        self.check_function(f.function_id())?;
        Ok(f.bound_args()?)
    }

    /// Once per submission: the options' restrictions, checked (amounts, and resource names
    /// some connected worker offers).
    fn restrictions(&self, options: &SubmitOptions) -> crate::Result<Option<RestrictionsMsg>> {
        let restrictions = options.restrictions()?;
        if let Some(restrictions) = &restrictions {
            let cluster = self.inner.shared.cluster.read().expect("cluster lock");
            check_resources(&cluster, &restrictions.resources)?;
        }
        Ok(restrictions)
    }

    fn task<F: RemoteFunction>(
        &self,
        f: &F,
        mut args: Vec<ArgSpec>,
        bound: &[ArgSpec],
        options: &SubmitOptions,
        restrictions: &Option<RestrictionsMsg>,
    ) -> crate::Result<NewTaskMsg> {
        args.extend_from_slice(bound);
        let body = TaskBody {
            function: f.function_id().clone(),
            args,
            retries: options.retries,
        };
        let deps = body.dependencies();
        super::future::check_not_cancelled(&self.inner.shared, &deps)?;
        let spec = body.to_spec()?;
        let key = match options.pure {
            true => pure_key(f.short_name(), &spec),
            false => fresh_key(f.short_name()),
        };
        let max_header = self.inner.limits().max_header;
        if spec.as_bytes().len() > max_header as usize {
            return Err(crate::Error::MessageTooLarge {
                operation: format!("task {key}"),
                source: Box::new(crate::messages::FrameError::HeaderTooLarge {
                    len: spec.as_bytes().len() as u64,
                    max: max_header.into(),
                }),
            });
        }
        Ok(NewTaskMsg {
            key,
            deps,
            function: body.function,
            spec,
            order: 0,
            restrictions: restrictions.clone(),
        })
    }

    /// Fails fast when workers are connected but none can run `function`.
    pub(crate) fn check_function(&self, function: &FunctionId) -> crate::Result<()> {
        let cluster = self.inner.shared.cluster.read().expect("cluster lock");
        check_function(&cluster, function)
    }

    /// Takes a future per task and sends the tasks this executor did not hold yet.
    fn send_tasks<T>(&self, mut tasks: Vec<NewTaskMsg>) -> Vec<Future<T>> {
        let first = self.inner.next_order(tasks.len());
        let mut futures = Vec::with_capacity(tasks.len());
        let mut fresh = Vec::new();
        for (i, mut task) in tasks.drain(..).enumerate() {
            let (future, is_new) = self.future_for::<T>(task.key.clone());
            let revived = !is_new && future.revive_if_lost();
            futures.push(future);
            if is_new || revived {
                task.order = first + i as i64;
                fresh.push(task);
            }
        }
        // Independent tasks (their dependencies are futures already sent), so they can go in
        // several messages, each well under the header limit the scheduler reads with.
        let budget = u64::from(self.inner.limits().max_header) / 2;
        let mut batch: Vec<NewTaskMsg> = Vec::new();
        let mut batch_bytes = 0;
        for task in fresh {
            let bytes = crate::messages::codec::encoded_len(&task);
            if !batch.is_empty() && batch_bytes + bytes > budget {
                self.send_update(std::mem::take(&mut batch));
                batch_bytes = 0;
            }
            batch_bytes += bytes;
            batch.push(task);
        }
        if !batch.is_empty() {
            self.send_update(batch);
        }
        futures
    }

    fn send_update(&self, tasks: Vec<NewTaskMsg>) {
        let wanted = tasks.iter().map(|t| t.key.clone()).collect();
        let update = ExecutorToScheduler::UpdateGraph { tasks, wanted };
        self.inner.to_scheduler(update);
    }

    pub(crate) fn future_for<T>(&self, key: TaskKey) -> (Future<T>, bool) {
        let (state, is_new) = self.inner.shared.acquire(key);
        let handle = FutureHandle {
            state,
            executor: self.inner.clone(),
        };
        (Future::new(handle), is_new)
    }

    /// Waits for every future and brings their values here, in order. Async twin:
    /// [`Executor::gather_async`].
    pub fn gather<T: DeserializeOwned + 'static>(
        &self,
        futures: &[Future<T>],
    ) -> crate::Result<Vec<T>> {
        super::blocking::check_may_block("gather", "gather_async(..).await")?;
        let states: Vec<Arc<super::state::KeyState>> =
            futures.iter().map(|f| f.state().clone()).collect();
        self.inner.wait_for(&states);
        self.inner.fetch_values(&states)
    }

    /// Cancels these futures: the cluster forgets them unless someone else wants them, and
    /// their `result` gives `Error::Cancelled`. Returns once the scheduler has heard, so the
    /// same call submitted afterwards starts afresh. Async twin: [`Executor::cancel_async`].
    pub fn cancel<T>(&self, futures: &[Future<T>]) -> crate::Result<()> {
        super::blocking::check_may_block("cancel", "cancel_async(..).await")?;
        self.cancel_keys(futures.iter().map(|f| f.key().clone()).collect())
    }

    /// Marks `keys` cancelled here and waits until the scheduler has heard (blocking).
    pub(crate) fn cancel_keys(&self, keys: Vec<TaskKey>) -> crate::Result<()> {
        for key in &keys {
            self.inner
                .shared
                .set_status(key, super::KeyStatus::Cancelled);
        }
        self.inner.ask(
            ExecutorToScheduler::Cancel(keys),
            std::time::Duration::from_secs(60),
        )?;
        Ok(())
    }
}

/// Whether the cluster can run `function`: yes when it has no workers yet (tasks wait for
/// them) or some worker advertises exactly this name and signature.
/// Fails fast when workers are connected but none offers a resource the task asks for
/// (while none is connected, the task is sent and waits).
fn check_resources(cluster: &ClusterSnapshot, asked: &Resources) -> crate::Result<()> {
    if cluster.workers.is_empty() {
        return Ok(());
    }
    let offers = |name: &str| cluster.workers.iter().any(|w| w.resources.get(name).0 > 0);
    let Some((missing, _)) = asked.iter().find(|(name, _)| !offers(name)) else {
        return Ok(());
    };
    let mut offered: Vec<&str> = cluster
        .workers
        .iter()
        .flat_map(|w| w.resources.iter().map(|(name, _)| name))
        .collect();
    offered.sort_unstable();
    offered.dedup();
    let offered = match offered.is_empty() {
        true => "none".to_string(),
        false => offered.join(", "),
    };
    Err(ResourceError::Unknown {
        name: missing.to_string(),
        offered,
    }
    .into())
}

fn check_function(cluster: &ClusterSnapshot, function: &FunctionId) -> crate::Result<()> {
    if cluster.workers.is_empty() {
        return Ok(());
    }
    let mut theirs: Vec<u64> = Vec::new();
    for advertised in cluster.workers.iter().flat_map(|w| &w.functions) {
        if advertised == function {
            return Ok(());
        }
        if advertised.name == function.name && !theirs.contains(&advertised.signature) {
            theirs.push(advertised.signature);
        }
    }
    if theirs.is_empty() {
        return Err(crate::Error::UnknownFunction {
            function: function.name.to_string(),
            hint: serve_hint(&function.name),
        });
    }
    Err(crate::Error::SignatureMismatch {
        function: function.name.to_string(),
        ours: function.signature,
        theirs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::WorkerId;
    use crate::messages::executor_link::WorkerView;

    fn cluster_with(functions: Vec<FunctionId>) -> ClusterSnapshot {
        let worker = WorkerView {
            id: WorkerId(1),
            name: "w1".into(),
            addr: "127.0.0.1:1".parse().unwrap(),
            pid: 1,
            nthreads: 1,
            memory_limit: 0,
            memory_used: 0,
            stored_keys: 0,
            keys_in_memory: 0,
            processing: 0,
            peer_bytes_in: 0,
            stored_bytes: 0,
            peak_stored_bytes: 0,
            functions,
            resources: "GPU=2".parse().unwrap(),
        };
        ClusterSnapshot {
            workers: vec![worker],
            tasks: 0,
            ..ClusterSnapshot::default()
        }
    }

    #[test]
    fn a_resource_no_worker_offers_is_refused_with_what_they_offer() {
        let cluster = cluster_with(vec![]);
        let gpu = Resources::from_pairs([("GPU", 1.0)]).unwrap();
        assert!(check_resources(&cluster, &gpu).is_ok());
        let tpu = Resources::from_pairs([("TPU", 1.0)]).unwrap();
        let err = check_resources(&cluster, &tpu).unwrap_err();
        assert!(
            matches!(&err, crate::Error::Resources(ResourceError::Unknown { name, offered })
                if name == "TPU" && offered == "GPU"),
            "{err:?}"
        );
        assert!(err.to_string().contains("--resources \"TPU=N\""), "{err}");
        assert!(check_resources(&ClusterSnapshot::default(), &tpu).is_ok());
    }

    #[test]
    fn a_cluster_without_workers_accepts_anything() {
        let empty = ClusterSnapshot::default();
        assert!(check_function(&empty, &FunctionId::new("f", 1)).is_ok());
    }

    #[test]
    fn an_exact_match_is_accepted() {
        let cluster = cluster_with(vec![FunctionId::new("f", 1)]);
        assert!(check_function(&cluster, &FunctionId::new("f", 1)).is_ok());
    }

    #[test]
    fn same_name_other_signature_is_a_mismatch() {
        let cluster = cluster_with(vec![FunctionId::new("f", 2)]);
        match check_function(&cluster, &FunctionId::new("f", 1)) {
            Err(crate::Error::SignatureMismatch {
                ours: 1, theirs, ..
            }) => assert_eq!(theirs, vec![2]),
            other => panic!("expected a signature mismatch, got {other:?}"),
        }
    }

    #[test]
    fn an_unknown_name_says_how_to_serve_it() {
        let cluster = cluster_with(vec![FunctionId::new("g", 1)]);
        match check_function(&cluster, &FunctionId::new("f", 1)) {
            Err(crate::Error::UnknownFunction { function, hint }) => {
                assert_eq!(function, "f");
                assert!(hint.contains("taskforce::cli::main()"), "{hint}");
            }
            other => panic!("expected an unknown function, got {other:?}"),
        }
    }
}
