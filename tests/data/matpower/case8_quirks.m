function mpc = case8_quirks
%CASE8_QUIRKS  Hand-made 8-bus case exercising MATPOWER corner cases.
%   Written for gridsim's MATPOWER reader tests (not from any published case):
%     - bus 1 (REF) has two gens with different VG: MATPOWER uses the last (1.05)
%     - bus 2 (PV) has two gens with different VG and Q ranges
%     - bus 3 (PQ) has a gen: a fixed P/Q injection
%     - bus 4 (PV) has only an out-of-service gen: it is a PQ bus
%     - bus 5 is isolated (type 4), with a load, an in-service gen and a branch
%     - branch 5 has negative reactance (series capacitor), branch 6 is out of service
%     - branch 8 is a transformer with charging, 9 a pure phase shifter (TAP = 0),
%       10 a tap + shift transformer whose from bus has the lower voltage

%% MATPOWER Case Format : Version 2
mpc.version = '2';

%{
This block comment is skipped,
including mpc.baseMVA = 1;
%}

%%-----  Power Flow Data  -----%%
%% system MVA base
mpc.baseMVA = 100;   % MVA

%% bus data
%	bus_i	type	Pd	Qd	Gs	Bs	area	Vm	Va	baseKV	zone	Vmax	Vmin
mpc.bus = [
	1	3	0	0	0	0	1	1.04	5	345	1	1.1	0.9;
	2	2	20	5	0	0	1	1.02	3	345	1	1.1	0.9;

	3	1	90	30	1	0	1	1	0	345	1	1.1	0.9;   % gen at a PQ bus
	4	2	50	20	0	0	2	1	0	345	2	1.1	0.9    % PV bus, no online gen
	% bus 5 is isolated
	5	4	10	5	0	0	2	1	0	138	2	1.1	0.9;
	6,	1,	60,	20,	0,	15,	2,	1,	0,	138,	2,	1.1,	0.9;
	7	1	40	10	0	0	2	1	0	138	2	1.1	0.9;
	8	2	0	0	0	0	2	1.01	0	138	2	1.1	0.9;
];

%% generator data
%	bus	Pg	Qg	Qmax	Qmin	Vg	mBase	status	Pmax	Pmin
mpc.gen = [
	1	0	0	300	-300	1.04	100	1	400	0;
	1	50	0	100	-100	1.05	100	1	100	0;
	2	80	0	50	-30	1.02	100	1	150	0;
	2	40	0	20	-20	1.03	100	1	60	0;
	3	30	10	20	-20	1	100	1	40	0;
	4	20	0	30	-30	1.01	100	0	40	0;
	5	10	0	10	-10	1	100	1	20	0;
	8	60	0	40	-40	1.01	100	1	80	0;
];

%% branch data
%	fbus	tbus	r	x	b	rateA	rateB	rateC	ratio	angle	status
mpc.branch = [
	1	2	0.005	0.05	0.2	400	400	400	0	0	1;
	1	3	0.006	0.06	0.25	0	0	0	0	0	1;
	2	3	0.004	0.045	0.18	300	300	300	0	0	1;
	2	4	0.005	0.05	0.2	300	300	300	0	0	1;
	3	4	0.003	-0.008	0	300	300	300	0	0	1;   % series capacitor
	1	4	0.005	0.05	0.2	300	300	300	0	0	0;   % out of service
	4	5	0.01	0.1	0	100	100	100	0	0	1;   % to the isolated bus
	3	6	0.001	0.04	0.03	200	200	200	0.98	0	1;
	2	7	0.0005	0.03	0	200	200	200	0	5	1;
	8	4	0.0008	0.035	0	200	200	200	0.975	-3	1;
	6	7	0.01	0.08	0.02	100	100	100	0	0	1;
	7	8	0.012	0.09	0.03	100	100	100	0	0	1;
	6	8	0.02	0.12	0.04	100	100	100	0	0	1;
];

%%-----  OPF Data  -----%%
%% generator cost data
%	1	startup	shutdown	n	x1	y1	...	xn	yn
%	2	startup	shutdown	n	c(n-1)	...	c0
mpc.gencost = [
	2	0	0	3	0.01	20	0;
	2	0	0	3	0.02	25	0;
	2	0	0	3	0.01	18	0;
	2	0	0	3	0.03	30	0;
	2	0	0	3	0	10	0;
	2	0	0	3	0	10	0;
	2	0	0	3	0	10	0;
	2	0	0	3	0.02	22	0;
];

%% area data (old style, ignored)
mpc.areas = [
	1	1;
	2	4;
];

%% bus names
mpc.bus_name = {
	'North 345';
	'East 345';
	'Centre 345';
	'South 345';
	'Island 138';
	'Centre 138';
	'West 138';
	'South ''B'' 138';
};

%% generator fuel types
mpc.genfuel = {'hydro'; 'gas'; 'coal'; 'gas'; 'wind'; 'gas'; 'diesel'; 'hydro'};
