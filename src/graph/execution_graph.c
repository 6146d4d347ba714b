/*
 * execution_graph.c - JobGraph -> ExecutionGraph: every task split into its
 * parallel subtasks, each bound to a slot.
 *
 * Slot sharing as in Flink's default group: a slot holds one subtask of each
 * task, subtask i of every task goes to slot i, so a whole pipeline slice runs
 * in one slot and the job needs as many slots as its highest parallelism.
 */
#include <stdlib.h>

#include "graph.h"
#include "graph_int.h"
#include "mem.h"

fl_execution_graph *fl_execution_graph_create(fl_job_graph *job, int available_slots,
                                              fl_error *err) {
    if (job == NULL) {
        fl_error_set(err, FL_EINVAL, "no job graph to schedule");
        return NULL;
    }
    int needed = 0, n_subtasks = 0;
    for (int v = 0; v < job->n_vertices; v++) {
        if (job->vertices[v].parallelism > needed)
            needed = job->vertices[v].parallelism;
        n_subtasks += job->vertices[v].parallelism;
    }
    if (available_slots < needed) {
        fl_error_set(err, FL_ERESOURCE,
                     "the job needs %d slots but the cluster has %d; lower the parallelism or "
                     "raise taskmanager.numberOfTaskSlots",
                     needed, available_slots);
        fl_job_graph_destroy(job);
        return NULL;
    }

    fl_execution_graph *eg = fl_xcalloc(1, sizeof(*eg));
    eg->job = job;
    eg->attempt = 0;
    eg->n_slots = needed;
    eg->n_subtasks = n_subtasks;
    eg->subtasks = fl_xcalloc((size_t)(n_subtasks > 0 ? n_subtasks : 1), sizeof(*eg->subtasks));
    eg->first_subtask =
        fl_xcalloc((size_t)(job->n_vertices > 0 ? job->n_vertices : 1), sizeof(int));
    int next = 0;
    for (int v = 0; v < job->n_vertices; v++) {
        eg->first_subtask[v] = next;
        for (int i = 0; i < job->vertices[v].parallelism; i++) {
            fl_execution_vertex *ev = &eg->subtasks[next++];
            ev->vertex = v;
            ev->subtask = i;
            ev->slot = i;
        }
    }
    return eg;
}

void fl_execution_graph_destroy(fl_execution_graph *g) {
    if (g == NULL)
        return;
    fl_job_graph_destroy(g->job);
    free(g->subtasks);
    free(g->first_subtask);
    free(g);
}
